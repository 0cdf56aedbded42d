import assert from "node:assert/strict";
import {
  addressKey,
  recordSignInSuccess,
  reserveSignInAttempt,
  SIGN_IN_LIMITS,
} from "./sign_in_throttle.ts";

const T = "tenant1";

Deno.test("addressKey() - IPv4 as it is, IPv6 by its /64, mapped IPv4 as IPv4", () => {
  assert.equal(addressKey("192.0.2.1"), "192.0.2.1");
  assert.equal(addressKey("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  assert.equal(addressKey("2001:0db8:0001:0002:ffff:0:0:9"), "2001:db8:1:2::/64");
  assert.equal(addressKey("[2001:db8:1:2::1]"), "2001:db8:1:2::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressKey("::ffff:198.51.100.4"), "198.51.100.4");
  assert.notEqual(addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:3::1"));
});

Deno.test("reserveSignInAttempt() - delays grow after the free attempts and decay after an hour", async () => {
  using kv = await Deno.openKv(":memory:");
  const { free, baseSeconds, maxSeconds } = SIGN_IN_LIMITS.pair;
  let now = Date.UTC(2026, 0, 1);
  const at = (ms: number) => reserveSignInAttempt(kv, T, "a@x.test", "192.0.2.1", ms);
  for (let i = 0; i < free; i++) assert.equal(await at(now), 0);
  // The sixth waits the base delay; when it has passed, one attempt, then twice as long.
  assert.equal(await at(now), baseSeconds);
  now += baseSeconds * 1000;
  assert.equal(await at(now), 0);
  assert.equal(await at(now), 2 * baseSeconds);
  // The delay never exceeds its cap, however many failures.
  for (let i = 0; i < 20; i++) {
    now += maxSeconds * 1000;
    assert.equal(await at(now), 0);
  }
  assert.equal(await at(now), maxSeconds);
  // An hour without failures starts again from zero.
  now += (SIGN_IN_LIMITS.decaySeconds + maxSeconds) * 1000 + 1;
  for (let i = 0; i < free; i++) assert.equal(await at(now), 0);
});

Deno.test("reserveSignInAttempt() - a known address is not held by the account's failures elsewhere", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = Date.UTC(2026, 0, 1);
  await recordSignInSuccess(kv, T, "a@x.test", "198.51.100.1", now);
  for (let i = 0; i < SIGN_IN_LIMITS.account.free; i++) {
    assert.equal(await reserveSignInAttempt(kv, T, "a@x.test", `203.0.113.${i}`, now), 0);
  }
  assert.ok(await reserveSignInAttempt(kv, T, "A@x.test ", "203.0.113.200", now) > 0);
  assert.equal(await reserveSignInAttempt(kv, T, "a@x.test", "198.51.100.1", now), 0);
});

Deno.test("reserveSignInAttempt() - one address is held after 30 attempts over any accounts", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = Date.UTC(2026, 0, 1, 0, 1);
  for (let i = 0; i < SIGN_IN_LIMITS.perAddress; i++) {
    assert.equal(await reserveSignInAttempt(kv, T, `u${i}@x.test`, "192.0.2.9", now), 0);
  }
  const wait = await reserveSignInAttempt(kv, T, "other@x.test", "192.0.2.9", now);
  assert.ok(wait > 0 && wait <= SIGN_IN_LIMITS.windowSeconds, `${wait}`);
  assert.equal(await reserveSignInAttempt(kv, T, "other@x.test", "192.0.2.10", now), 0);
});

Deno.test("recordSignInSuccess() - clears the account's failures at that address only", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = Date.UTC(2026, 0, 1);
  for (let i = 0; i < SIGN_IN_LIMITS.pair.free; i++) {
    await reserveSignInAttempt(kv, T, "a@x.test", "192.0.2.1", now);
    await reserveSignInAttempt(kv, T, "a@x.test", "192.0.2.2", now);
  }
  await recordSignInSuccess(kv, T, "a@x.test", "192.0.2.1", now);
  assert.equal(await reserveSignInAttempt(kv, T, "a@x.test", "192.0.2.1", now), 0);
  assert.ok(await reserveSignInAttempt(kv, T, "a@x.test", "192.0.2.2", now) > 0);
});
