import assert from "node:assert/strict";
import { parseFilter } from "./parser.ts";
import { mentionsAttribute } from "./mentions.ts";

Deno.test("mentionsAttribute() - finds the attribute anywhere in the filter", () => {
  const yes = [
    'groups.value eq "g"',
    'groups[value eq "g"]',
    "groups pr",
    'userName eq "a" and not (GROUPS.value eq "g")',
    'active eq true or groups[display sw "x"]',
  ];
  for (const f of yes) assert.ok(mentionsAttribute(parseFilter(f), "groups"), f);
  for (const f of ['userName eq "groups"', 'emails[value eq "groups"]']) {
    assert.ok(!mentionsAttribute(parseFilter(f), "groups"), f);
  }
});
