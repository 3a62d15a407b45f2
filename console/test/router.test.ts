import assert from "node:assert/strict";
import { test } from "node:test";
import { href, parse, tab } from "../src/router";

test("hashes name pages", () => {
  assert.deepEqual(parse(""), { page: "home" });
  assert.deepEqual(parse("#/"), { page: "home" });
  assert.deepEqual(parse("#/orgs"), { page: "orgs" });
  assert.deepEqual(parse("#/orgs/acme/keys/key_abc"), { page: "key", org: "acme", id: "key_abc" });
  const keys = parse("#/orgs/acme/keys?status=active&q=bill");
  assert.equal(keys.page, "keys");
  assert.ok(keys.page === "keys" && keys.query.get("status") === "active" && keys.org === "acme");
  assert.equal(parse("#/orgs/acme").page, "keys");
  assert.equal(parse("#/orgs/acme/audit").page, "audit");
  assert.equal(parse("#/orgs/acme/nope").page, "missing");
  assert.equal(parse("#/orgs/acme/keys/k/extra").page, "missing");
  assert.equal(parse("#/orgs/%E0%A4%A").page, "missing");
});

test("every route's hash parses back to it", () => {
  const routes = [
    { page: "home" as const },
    { page: "orgs" as const },
    { page: "key" as const, org: "a-b", id: "key_1" },
    tab("acme", "audit", { key_id: "key_1", type: "key_revoked" }),
    tab("acme", "settings"),
  ];
  for (const route of routes) {
    assert.equal(href(parse(href(route))), href(route));
  }
  assert.equal(href(tab("acme", "keys", { q: "a b" })), "#/orgs/acme/keys?q=a+b");
});
