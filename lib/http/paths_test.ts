import assert from "node:assert/strict";
import { isSafeHeaderValue, sameOriginPath } from "./paths.ts";

Deno.test("sameOriginPath() - keeps same-origin paths, percent-encoded; refuses the rest", () => {
  assert.equal(sameOriginPath("/admin/users?q=a"), "/admin/users?q=a");
  assert.equal(sameOriginPath("/admin/users?q=é"), "/admin/users?q=%C3%A9");
  assert.equal(sameOriginPath('/admin/"><script>'), "/admin/%22%3E%3Cscript%3E");
  assert.equal(sameOriginPath("/me#frag"), "/me");
  for (
    const bad of [
      "//evil.example",
      "/\\evil.example",
      "https://evil.example/",
      "javascript:alert(1)",
      "admin",
      "",
      "/admin/\u0001x",
      "/admin/\u007f",
      "/ad\tmin",
      "/ok\r\nSet-Cookie: x",
      "/" + "a".repeat(2001),
    ]
  ) assert.equal(sameOriginPath(bad), null, JSON.stringify(bad));
  assert.equal(sameOriginPath("/admin/x", { under: "/admin" }), "/admin/x");
  assert.equal(sameOriginPath("/admin", { under: "/admin" }), "/admin");
  assert.equal(sameOriginPath("/administrator", { under: "/admin" }), null);
  assert.equal(sameOriginPath("/me", { under: "/admin" }), null);
  assert.equal(sameOriginPath("/admin/../me", { under: "/admin" }), null);
});

Deno.test("isSafeHeaderValue() - controls other than tab and DEL cannot be sent", () => {
  assert.ok(isSafeHeaderValue("a\tb é"));
  for (const ch of ["\u0000", "\u0001", "\n", "\r", "\u001f", "\u007f"]) {
    assert.ok(!isSafeHeaderValue(`a${ch}b`), JSON.stringify(ch));
  }
});
