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
