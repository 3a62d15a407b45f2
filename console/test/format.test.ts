import assert from "node:assert/strict";
import { test } from "node:test";
import { ago, expires, expiryBody, pairLines, pairs, rate, windowLength, words } from "../src/format";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const before = (ms: number) => new Date(NOW - ms).toISOString();
const after = (ms: number) => new Date(NOW + ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

test("last use reads as the seed products write it", () => {
  assert.equal(ago(null, NOW), "never");
  assert.equal(ago(before(10_000), NOW), "just now");
  assert.equal(ago(before(2 * MIN), NOW), "2m ago");
  assert.equal(ago(before(59 * MIN), NOW), "59m ago");
  assert.equal(ago(before(HOUR), NOW), "1h ago");
  assert.equal(ago(before(3 * DAY + HOUR), NOW), "3d ago");
  assert.equal(ago(before(95 * DAY), NOW), "3mo ago");
  assert.equal(ago(before(800 * DAY), NOW), "2y ago");
});

test("expiry reads as a countdown", () => {
  assert.equal(expires(null, NOW), "never");
  assert.equal(expires(before(1), NOW), "expired");
  assert.equal(expires(after(40 * MIN), NOW), "in 40 minutes");
  assert.equal(expires(after(5 * HOUR), NOW), "in 5 hours");
  assert.equal(expires(after(29 * DAY + HOUR), NOW), "in 29 days");
  assert.equal(expires(after(2 * DAY), NOW), "in 2 days");
  assert.equal(expires(after(7 * DAY - 5_000), NOW), "in 7 days");
  assert.equal(expires(after(HOUR + 50 * MIN), NOW), "in 2 hours");
});

test("windows are named by their length", () => {
  assert.equal(windowLength(1), "second");
  assert.equal(windowLength(60), "minute");
  assert.equal(windowLength(86_400), "day");
  assert.equal(windowLength(300), "5 minutes");
  assert.equal(windowLength(90), "90 seconds");
  assert.equal(rate({ limit: 100_000, window_seconds: 86_400 }), "100,000 per day");
});

test("expiry presets, never and a date become the API's fields", () => {
  assert.deepEqual(expiryBody({ preset: 90 }, NOW), { ok: { expires_in_days: 90 } });
  assert.deepEqual(expiryBody({ never: true }, NOW), { ok: {} });
  const dated = expiryBody({ date: "2027-01-31" }, NOW);
  assert.ok("ok" in dated && dated.ok.expires_at?.startsWith("2027-0"));
  assert.deepEqual(expiryBody({ date: "2020-01-01" }, NOW), { error: "The expiry date must be in the future." });
  assert.deepEqual(expiryBody({ date: "" }, NOW), { error: "Pick the day the key expires." });
});

test("lists and name=value lines are read, repeats dropped", () => {
  assert.deepEqual(words(" read, write  read,,admin "), ["read", "write", "admin"]);
  assert.deepEqual(pairs("site=a, b\n\nteam=t1\nsite=c", "Resource ids"), { ok: { site: ["a", "b", "c"], team: ["t1"] } });
  assert.deepEqual(pairs("site", "Resource ids"), { error: "Resource ids, line 1: write name=value1,value2" });
  assert.deepEqual(pairs("=a", "Fields"), { error: "Fields, line 1: write name=value1,value2" });
  assert.equal(pairLines({ site: ["a", "b"], team: ["t"] }), "site=a,b\nteam=t");
});
