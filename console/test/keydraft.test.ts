import assert from "node:assert/strict";
import { test } from "node:test";
import type { Key } from "../src/api";
import { createBody, patchBody, windows, type KeyDraft } from "../src/keydraft";

const NOW = Date.parse("2026-11-24T12:00:00Z");

const draft: KeyDraft = {
  name: " Reporting ",
  scopes: ["read", "reports:read"],
  resources: {},
  fields: {},
  windows: "plan",
};

const key: Key = {
  id: "key_1", org: "acme", name: "Reporting", start: "kg_live_abcd", status: "active",
  scopes: ["reports:read", "read"], resources: { site: ["s1"] }, fields: {},
  rate_limits: [{ name: "minute", limit: 5000, window_seconds: 60 }], rate_limiting: true,
  on_limiter_error: "deny", revocation_bound_ms: null, enabled: true, expires_at: null,
  created_at: "2026-11-01T00:00:00Z", created_by: "admin", updated_at: null, rotated_at: null,
  revoked_at: null, meta: { team: "data" }, last_used_at: null, requests_total: 0,
};

test("a create body holds what was chosen and nothing empty", () => {
  assert.deepEqual(createBody(draft, { preset: 30 }, NOW), {
    ok: { name: "Reporting", scopes: ["read", "reports:read"], expires_in_days: 30 },
  });
  const full = createBody(
    { ...draft, resources: { site: ["a"] }, windows: [{ name: "minute", limit: 10, window_seconds: 60 }], rateLimiting: false, meta: '{"team":"x"}' },
    { never: true },
    NOW,
  );
  assert.deepEqual(full, {
    ok: {
      name: "Reporting", scopes: ["read", "reports:read"], resources: { site: ["a"] },
      rate_limits: [{ name: "minute", limit: 10, window_seconds: 60 }], rate_limiting: false, meta: { team: "x" },
    },
  });
  assert.deepEqual(createBody({ ...draft, meta: "[1]" }, { never: true }, NOW), { error: 'Meta must be a JSON object, such as {"team": "data"}.' });
});

test("an edit sends only what changed, so an organization admin never restates the operator's windows", () => {
  const same: KeyDraft = {
    name: "Reporting", scopes: ["read", "reports:read"], resources: { site: ["s1"] }, fields: {},
    windows: [{ name: "minute", limit: 5000, window_seconds: 60 }],
  };
  assert.deepEqual(patchBody(same, key), { ok: {} });
  assert.deepEqual(patchBody({ ...same, name: "Renamed" }, key), { ok: { name: "Renamed" } });
  assert.deepEqual(patchBody({ ...same, windows: "plan" }, key), { ok: { rate_limits: [] } });
  assert.deepEqual(patchBody({ ...same, meta: '{"team": "data"}', rateLimiting: true }, key), { ok: {} });
  assert.deepEqual(patchBody({ ...same, meta: "" }, key), { ok: { meta: {} } });
  assert.deepEqual(patchBody({ ...same, resources: {} }, key), { ok: { resources: {} } });
});

test("window rows are read, or the row that is wrong is named", () => {
  assert.deepEqual(windows([{ name: "", limit: "300", seconds: "60" }, { name: "burst", limit: "20", seconds: "1" }]), {
    ok: [{ name: "minute", limit: 300, window_seconds: 60 }, { name: "burst", limit: 20, window_seconds: 1 }],
  });
  assert.deepEqual(windows([{ name: "x", limit: "0", seconds: "60" }]), { error: "Rate limit 1: the number of requests must be a whole number, at least 1." });
  assert.deepEqual(windows([{ name: "x", limit: "1.5", seconds: "60" }]), { error: "Rate limit 1: the number of requests must be a whole number, at least 1." });
});
