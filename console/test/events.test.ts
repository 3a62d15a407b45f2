import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { scaleMax, ticks } from "../src/charts";
import { AUDIT_TYPES, WEBHOOK_EVENTS } from "../src/events";

// Run from the repository root (scripts/console.sh).
const spec = JSON.parse(readFileSync("src/openapi.json", "utf8"));

test("the audit filter and the webhook dialog offer exactly the API's event names", () => {
  assert.deepEqual([...AUDIT_TYPES].sort(), [...spec.components.schemas.AuditEvent.properties.type.enum].sort());
  assert.deepEqual(WEBHOOK_EVENTS.map(([name]) => name).sort(), [...spec.components.schemas.WebhookEventType.enum].sort());
});

test("charts scale to a readable maximum and label every step back from now", () => {
  const b = (admitted: number, refused = 0) => ({ start: "2026-11-24T00:00:00Z", admitted, refused });
  assert.equal(scaleMax([]), 1);
  assert.equal(scaleMax([b(0)]), 1);
  assert.equal(scaleMax([b(3, 4)]), 10);
  assert.equal(scaleMax([b(120)]), 200);
  assert.equal(scaleMax([b(5)]), 5);
  assert.deepEqual(ticks(48, 12), [11, 23, 35, 47]);
  assert.deepEqual(ticks(30, 7), [1, 8, 15, 22, 29]);
  assert.deepEqual(ticks(1, 7), [0]);
  assert.deepEqual(ticks(0, 7), []);
});
