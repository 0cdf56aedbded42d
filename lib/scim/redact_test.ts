import assert from "node:assert/strict";
import { redactBody } from "./redact.ts";

Deno.test("redactBody() - passwords and secrets are redacted wherever they are", () => {
  const user = JSON.stringify({
    userName: "a@x.test",
    password: "hunter2hunter2",
    name: { givenName: "A" },
    "urn:x:ext": { apiKey: "k-123", tokenCount: 3 },
  });
  const out = JSON.parse(redactBody(user));
  assert.equal(out.password, "[redacted]");
  assert.equal(out["urn:x:ext"].apiKey, "[redacted]");
  assert.equal(out["urn:x:ext"].tokenCount, 3);
  assert.equal(out.userName, "a@x.test");
  const patch = JSON.stringify({
    Operations: [
      { op: "replace", path: "password", value: "s3cret-value" },
      { op: "Replace", Path: "urn:x:ext:User:secret", value: "other" },
      { op: "replace", path: "title", value: "Lead" },
      { op: "replace", value: { password: "p", active: false } },
    ],
  });
  const ops = JSON.parse(redactBody(patch)).Operations;
  assert.deepEqual(ops.map((o: { value: unknown }) => o.value), [
    "[redacted]",
    "[redacted]",
    "Lead",
    { password: "[redacted]", active: false },
  ]);
  assert.doesNotMatch(redactBody(patch), /s3cret-value|other"/);
  // Not JSON: name=value pairs.
  assert.equal(redactBody("user=a&password=hunter2&x=1"), "user=a&password=[redacted]&x=1");
  // Nothing to redact: the very same text.
  const plain = '{"userName":"b@x.test"}';
  assert.equal(redactBody(plain), plain);
});
