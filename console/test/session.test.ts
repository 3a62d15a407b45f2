import assert from "node:assert/strict";
import { test } from "node:test";
import { apiRoot, withQuery } from "../src/api";
import { forgetSession, loadSession, saveSession } from "../src/session";

/** sessionStorage as the browser has it, in memory. */
function storage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (k) => items.get(k) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (k) => void items.delete(k),
    setItem: (k, v) => void items.set(k, String(v)),
  };
}

test("a session is kept, read back and forgotten; a damaged one is none", () => {
  const s = storage();
  assert.equal(loadSession(s), null);
  saveSession({ kind: "org", credential: "kg_live_x", org: "acme" }, s);
  assert.deepEqual(loadSession(s), { kind: "org", credential: "kg_live_x", org: "acme" });
  forgetSession(s);
  assert.equal(s.length, 0);
  for (const damaged of ["{", '{"kind":"org","credential":"k"}', '{"kind":"operator","credential":""}', '"x"']) {
    s.setItem("keygate.console.session", damaged);
    assert.equal(loadSession(s), null, damaged);
  }
});

test("the API is found beside the console, whatever the prefix", () => {
  assert.equal(apiRoot("/_keygate/console/"), "/_keygate/v1");
  assert.equal(apiRoot("/admin/keys/console/"), "/admin/keys/v1");
  assert.equal(withQuery("/orgs/a/keys", { q: "", status: "active", cursor: null, limit: 50 }), "/orgs/a/keys?status=active&limit=50");
  assert.equal(withQuery("/orgs", {}), "/orgs");
});
