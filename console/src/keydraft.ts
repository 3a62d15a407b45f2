// What the key dialogs send: the create body and, for an edit, only what changed. Pure (the
// form reads the controls into a `KeyDraft`; console/test/keydraft.test.ts checks these).
// The API judges the values and says what is wrong in its own words; this only reads text
// (lists, JSON, numbers) into the shapes the API takes.

import type { Key, RateLimit } from "./api";
import { expiryBody, type Expiry } from "./format";

export interface KeyDraft {
  name: string;
  scopes: string[];
  resources: Record<string, string[]>;
  fields: Record<string, string[]>;
  /** `"plan"`: no windows of its own (the plan's defaults). */
  windows: RateLimit[] | "plan";
  /** Only the admin token may switch rate limiting off. */
  rateLimiting?: boolean;
  /** Meta as typed (only the admin token may set it); empty: none. */
  meta?: string;
}

type Result<T> = { ok: T } | { error: string };

/** A window row of the form: name, limit and length as typed. */
export interface WindowRow {
  name: string;
  limit: string;
  seconds: string;
}

/** The windows of the form's rows; a row with an empty name gets one from its length. */
export function windows(rows: WindowRow[]): Result<RateLimit[]> {
  const out: RateLimit[] = [];
  for (const [i, row] of rows.entries()) {
    const limit = Number(row.limit);
    const seconds = Number(row.seconds);
    if (!row.limit.trim() || !Number.isInteger(limit) || limit < 1) {
      return { error: `Rate limit ${i + 1}: the number of requests must be a whole number, at least 1.` };
    }
    if (!Number.isInteger(seconds) || seconds < 1) {
      return { error: `Rate limit ${i + 1}: choose the window's length.` };
    }
    out.push({ name: row.name.trim() || defaultName(seconds), limit, window_seconds: seconds });
  }
  return { ok: out };
}

function defaultName(seconds: number): string {
  const names: Record<number, string> = { 1: "second", 60: "minute", 3600: "hour", 86400: "day" };
  return names[seconds] ?? `${seconds}s`;
}

function parseMeta(text: string): Result<Record<string, unknown> | null> {
  if (!text.trim()) return { ok: null };
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return { ok: value as Record<string, unknown> };
    }
  } catch {
    // Said below.
  }
  return { error: 'Meta must be a JSON object, such as {"team": "data"}.' };
}

/** The body of `POST /orgs/{org}/keys`. */
export function createBody(draft: KeyDraft, expiry: Expiry, now: number): Result<Record<string, unknown>> {
  const when = expiryBody(expiry, now);
  if ("error" in when) return when;
  const body: Record<string, unknown> = { name: draft.name.trim(), scopes: draft.scopes, ...when.ok };
  if (Object.keys(draft.resources).length) body.resources = draft.resources;
  if (Object.keys(draft.fields).length) body.fields = draft.fields;
  if (draft.windows !== "plan") body.rate_limits = draft.windows;
  if (draft.rateLimiting === false) body.rate_limiting = false;
  if (draft.meta !== undefined) {
    const meta = parseMeta(draft.meta);
    if ("error" in meta) return meta;
    if (meta.ok) body.meta = meta.ok;
  }
  return { ok: body };
}

/** JSON with object keys sorted: the API answers maps in key order, the form in its own. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);
const sameSet = (a: string[], b: string[]) => same([...a].sort(), [...b].sort());

/** The body of `PATCH …/keys/{id}`: only what differs from `key`, since an organization
 *  admin's request is judged on what it sets (restating a window the operator gave beyond the
 *  plan would be refused). Empty when nothing changed. */
export function patchBody(draft: KeyDraft, key: Key): Result<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  if (draft.name.trim() !== key.name) body.name = draft.name.trim();
  if (!sameSet(draft.scopes, key.scopes)) body.scopes = draft.scopes;
  if (!same(draft.resources, key.resources)) body.resources = draft.resources;
  if (!same(draft.fields, key.fields)) body.fields = draft.fields;
  const rateLimits = draft.windows === "plan" ? [] : draft.windows;
  if (!same(rateLimits, key.rate_limits)) body.rate_limits = rateLimits;
  if (draft.rateLimiting !== undefined && draft.rateLimiting !== key.rate_limiting) {
    body.rate_limiting = draft.rateLimiting;
  }
  if (draft.meta !== undefined) {
    const meta = parseMeta(draft.meta);
    if ("error" in meta) return meta;
    // The API keeps meta when it is left out; an emptied field clears it to {}.
    const wanted = meta.ok ?? (key.meta ? {} : null);
    if (wanted !== null && !same(wanted, key.meta)) body.meta = wanted;
  }
  return { ok: body };
}
