import assert from "node:assert/strict";
import { counter, renderMetrics } from "./registry.ts";

Deno.test("renderMetrics() - counters and gauges in the Prometheus text format", () => {
  const c = counter("weft_test_things_total", "Things, by kind.");
  c.inc({ kind: "a" });
  c.inc({ kind: "a" }, 2);
  c.inc({ kind: 'q"uo\\te\n' });
  const text = renderMetrics([{ name: "weft_test_level", help: "A level.", value: 7 }]);
  assert.match(text, /^# HELP weft_test_things_total Things, by kind\.$/m);
  assert.match(text, /^# TYPE weft_test_things_total counter$/m);
  assert.match(text, /^weft_test_things_total\{kind="a"\} 3$/m);
  assert.match(text, /^weft_test_things_total\{kind="q\\"uo\\\\te\\n"\} 1$/m);
  assert.match(text, /^# TYPE weft_test_level gauge\nweft_test_level 7$/m);
  assert.ok(text.endsWith("\n"));
});
