import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";

Deno.test("config - the port shown to admins is the one deno serve listens on", () => {
  const port = (address?: string) =>
    loadConfig(address === undefined ? {} : { DENO_SERVE_ADDRESS: address }).port;
  assert.equal(port(), 8000);
  assert.equal(port("tcp:0.0.0.0:9000"), 9000);
  assert.equal(port("tcp:[::1]:9443"), 9443);
  // deno serve refuses an address without its "tcp:" scheme and listens on 8000.
  assert.equal(port("127.0.0.1:9000"), 8000);
  assert.equal(port("unix:/tmp/weft.sock"), 8000);
});

Deno.test("config - the store: a file by default, the platform's own on Deno Deploy, a URL first", () => {
  assert.equal(loadConfig({}).kvPath, "./data/weft.kv");
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "abc" }).kvPath, "");
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "abc", WEFT_KV_PATH: "/x.kv" }).kvPath, "/x.kv");
  assert.equal(
    loadConfig({ WEFT_KV_PATH: "/x.kv", DENO_KV_URL: "https://kv.example" }).kvPath,
    "https://kv.example",
  );
  assert.equal(loadConfig({ DENO_DEPLOYMENT_ID: "abc" }).onDeploy, true);
});

Deno.test("config - metrics off without a token, a short token refused, the grace period", () => {
  assert.equal(loadConfig({}).metricsToken, undefined);
  assert.equal(loadConfig({ WEFT_METRICS_TOKEN: "" }).metricsToken, undefined);
  assert.throws(() => loadConfig({ WEFT_METRICS_TOKEN: "short" }), /WEFT_METRICS_TOKEN/);
  assert.equal(loadConfig({}).shutdownGraceMs, 25_000);
  assert.equal(loadConfig({ WEFT_SHUTDOWN_GRACE_SECONDS: "2.5" }).shutdownGraceMs, 2_500);
});
