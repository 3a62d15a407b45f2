// The event names the API uses, for the audit log's filter and the webhook dialog. They mirror
// the `AuditEvent.type` and `WebhookEventType` enums of src/openapi.json; a unit test
// (console/test/events.test.ts) fails when the two drift apart.

export const AUDIT_TYPES = [
  "org_created",
  "org_updated",
  "key_created",
  "key_updated",
  "key_disabled",
  "key_enabled",
  "key_rotated",
  "key_revoked",
  "keys_revoked_all",
  "key_expired",
  "auth_failed",
  "key_expiring",
  "key_rotation_grace_ended",
  "webhook_failing",
  "key_rate_limited",
  "auth_succeeded",
  "webhook_created",
  "webhook_updated",
  "webhook_deleted",
  "webhook_secret_rotated",
  "key_leaked",
  "resource_created",
  "resource_updated",
  "resource_deleted",
] as const;

/** Webhook events, with what each tells the receiver. */
export const WEBHOOK_EVENTS: [string, string][] = [
  ["key.expiring", "30, 14 and 7 days before a key expires"],
  ["key.expired", "when a key expires"],
  ["key.rotation_grace_ended", "when the old secret of a rotation stops"],
  ["key.revoked", "when a key is revoked"],
  ["key.disabled", "when a key is disabled"],
  ["key.rate_limited", "the first refusal of a key in a window"],
  ["key.leaked", "a key was found in public"],
  ["webhook.test", "on request, from this page"],
];
