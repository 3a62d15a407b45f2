// The management API as the console sees it: the shapes it answers with (src/openapi.json)
// and one client that sends the signed-in credential and turns every refusal into an
// `ApiError` carrying the API's own code and message.

export type Plan = "free" | "pro" | "business" | "enterprise";
export type OnLeak = "revoke" | "disable" | "notify";
export type KeyStatus = "active" | "disabled" | "expired" | "revoked";

export interface RateLimit {
  name: string;
  limit: number;
  window_seconds: number;
}

export interface Org {
  id: string;
  plan: Plan;
  api_access: boolean;
  key_limit: number | null;
  key_count: number;
  on_leak: OnLeak;
  /** The plan's windows (absent from a keygate older than the console). */
  default_rate_limits?: RateLimit[];
  created_at: string;
  updated_at: string;
}

export interface Key {
  id: string;
  org: string;
  name: string;
  start: string;
  status: KeyStatus;
  scopes: string[];
  resources: Record<string, string[]>;
  fields: Record<string, string[]>;
  rate_limits: RateLimit[];
  rate_limiting: boolean;
  on_limiter_error: "deny" | "allow";
  revocation_bound_ms: number | null;
  enabled: boolean;
  expires_at: string | null;
  created_at: string;
  created_by: string;
  updated_at: string | null;
  rotated_at: string | null;
  revoked_at: string | null;
  meta: Record<string, unknown> | null;
  last_used_at: string | null;
  requests_total: number;
  /** Only in the answer that creates or rotates the key. */
  key?: string;
  previous_key_valid_until?: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface UsageEvent {
  at: string;
  method: string;
  path: string;
  outcome: string;
  country: string | null;
  status: number | null;
}

export interface Usage {
  last_used_at: string | null;
  requests_24h: number;
  requests_7d: number;
  requests_total: number;
  refused: Record<string, number>;
  recent: UsageEvent[];
}

export interface Bucket {
  start: string;
  admitted: number;
  refused: number;
}

export interface Series {
  series: "hour" | "day";
  buckets: Bucket[];
}

export interface AuditEvent {
  seq: number;
  at: string;
  type: string;
  actor: string;
  key_id: string | null;
  details: Record<string, unknown>;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  failing: boolean;
  created_at: string;
  /** Only in the answer that creates it or rotates its secret. */
  secret?: string;
}

export interface Delivery {
  event_id: string;
  type: string;
  status: "pending" | "delivered" | "given_up";
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** One resource of the deployment's route policy (`GET /v1/policy`). */
export interface PolicyResource {
  name: string;
  actions: string[];
  id_types: string[];
  fields: string[];
}

export interface Policy {
  default: string;
  resources: PolicyResource[];
}

/** A refusal, as the API words it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The management root next to the console: `…/console/` → `…/v1`. */
export function apiRoot(pathname: string): string {
  return pathname.replace(/\/console\/[^/]*$/, "") + "/v1";
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
type Query = Record<string, string | number | null | undefined>;

/** `path` with the non-empty entries of `query`. */
export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

const seg = encodeURIComponent;

/** The management API with one credential. */
export class Api {
  constructor(
    private readonly root: string,
    private readonly credential: string,
  ) {}

  /** Sends a request; the parsed JSON answer, or an `ApiError` with the API's message. */
  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.credential}` };
    const init: RequestInit = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(this.root + path, init);
    } catch {
      throw new ApiError(0, "network_error", "keygate could not be reached. Check the connection and try again.");
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: a proxy's page, say. The status is all there is to tell.
    }
    if (!response.ok) {
      const refusal = parsed as { error?: unknown; message?: unknown } | null;
      const message =
        typeof refusal?.message === "string" ? refusal.message : `keygate answered ${response.status} ${response.statusText}`;
      const code = typeof refusal?.error === "string" ? refusal.error : `http_${response.status}`;
      throw new ApiError(response.status, code, message);
    }
    return parsed as T;
  }

  async orgs(cursor?: string | null): Promise<Page<Org>> {
    const page = await this.call<{ orgs: Org[]; next_cursor: string | null }>("GET", withQuery("/orgs", { cursor, limit: 50 }));
    return { items: page.orgs, next_cursor: page.next_cursor };
  }

  org(org: string): Promise<Org> {
    return this.call("GET", `/orgs/${seg(org)}`);
  }

  putOrg(org: string, body: { plan?: Plan; api_access?: boolean; on_leak?: OnLeak }): Promise<Org> {
    return this.call("PUT", `/orgs/${seg(org)}`, body);
  }

  async keys(org: string, query: Query): Promise<Page<Key>> {
    const page = await this.call<{ keys: Key[]; next_cursor: string | null }>("GET", withQuery(`/orgs/${seg(org)}/keys`, query));
    return { items: page.keys, next_cursor: page.next_cursor };
  }

  key(org: string, id: string): Promise<Key> {
    return this.call("GET", `/orgs/${seg(org)}/keys/${seg(id)}`);
  }

  createKey(org: string, body: object): Promise<Key> {
    return this.call("POST", `/orgs/${seg(org)}/keys`, body);
  }

  updateKey(org: string, id: string, body: object): Promise<Key> {
    return this.call("PATCH", `/orgs/${seg(org)}/keys/${seg(id)}`, body);
  }

  rotateKey(org: string, id: string, graceHours: number): Promise<Key> {
    return this.call("POST", `/orgs/${seg(org)}/keys/${seg(id)}/rotate`, { grace_period_hours: graceHours });
  }

  revokeKey(org: string, id: string): Promise<{ message: string }> {
    return this.call("DELETE", `/orgs/${seg(org)}/keys/${seg(id)}`);
  }

  revokeAll(org: string): Promise<{ revoked: number; message: string }> {
    return this.call("POST", `/orgs/${seg(org)}/keys/revoke-all`);
  }

  usage(org: string, id: string): Promise<Usage> {
    return this.call("GET", `/orgs/${seg(org)}/keys/${seg(id)}/usage`);
  }

  /** Requests per hour (48) or day (30); `null` when this keygate does not keep them yet. */
  async series(org: string, id: string, series: "hour" | "day"): Promise<Series | null> {
    try {
      const answer = await this.call<Partial<Series>>("GET", withQuery(`/orgs/${seg(org)}/keys/${seg(id)}/usage`, { series }));
      return Array.isArray(answer.buckets) ? { series, buckets: answer.buckets } : null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) return null;
      throw e;
    }
  }

  async audit(org: string, query: Query): Promise<Page<AuditEvent>> {
    const page = await this.call<{ events: AuditEvent[]; next_cursor: string | null }>("GET", withQuery(`/orgs/${seg(org)}/audit`, query));
    return { items: page.events, next_cursor: page.next_cursor };
  }

  /** The route policy's resources; `null` when this keygate does not describe it yet (404). */
  async policy(): Promise<Policy | null> {
    try {
      const answer = await this.call<Partial<Policy>>("GET", "/policy");
      if (!Array.isArray(answer.resources)) return null;
      return { default: String(answer.default ?? ""), resources: answer.resources };
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
      throw e;
    }
  }

  async webhooks(org: string): Promise<Webhook[]> {
    return (await this.call<{ webhooks: Webhook[] }>("GET", `/orgs/${seg(org)}/webhooks`)).webhooks;
  }

  createWebhook(org: string, body: { url: string; events: string[] }): Promise<Webhook> {
    return this.call("POST", `/orgs/${seg(org)}/webhooks`, body);
  }

  updateWebhook(org: string, id: string, body: { enabled?: boolean }): Promise<Webhook> {
    return this.call("PATCH", `/orgs/${seg(org)}/webhooks/${seg(id)}`, body);
  }

  deleteWebhook(org: string, id: string): Promise<unknown> {
    return this.call("DELETE", `/orgs/${seg(org)}/webhooks/${seg(id)}`);
  }

  testWebhook(org: string, id: string): Promise<{ event_id: string }> {
    return this.call("POST", `/orgs/${seg(org)}/webhooks/${seg(id)}/test`);
  }

  rotateWebhookSecret(org: string, id: string): Promise<Webhook> {
    return this.call("POST", `/orgs/${seg(org)}/webhooks/${seg(id)}/rotate-secret`);
  }

  async deliveries(org: string, id: string): Promise<Delivery[]> {
    return (await this.call<{ deliveries: Delivery[] }>("GET", `/orgs/${seg(org)}/webhooks/${seg(id)}/deliveries`)).deliveries;
  }
}
