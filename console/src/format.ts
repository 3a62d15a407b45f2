// How the console words times, counts and windows. Pure functions of their arguments (the
// clock comes in as `now`, in ms), tested in console/test/format.test.ts.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "never", "just now", "2m ago", "3h ago", "5d ago", "4mo ago", "2y ago". */
export function ago(iso: string | null, now: number): string {
  if (!iso) return "never";
  const ms = now - Date.parse(iso);
  if (ms < 45_000) return "just now";
  if (ms < HOUR) return `${Math.max(1, Math.round(ms / MINUTE))}m ago`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)}h ago`;
  if (ms < 30 * DAY) return `${Math.floor(ms / DAY)}d ago`;
  if (ms < 365 * DAY) return `${Math.floor(ms / (30 * DAY))}mo ago`;
  return `${Math.floor(ms / (365 * DAY))}y ago`;
}

/** When a key expires: "never", "expired", "in 40 minutes", "in 5 hours", "in 29 days".
 *  Rounded: a 7-day key made a moment ago expires "in 7 days", not 6 and some hours. */
export function expires(iso: string | null, now: number): string {
  if (!iso) return "never";
  const ms = Date.parse(iso) - now;
  if (ms <= 0) return "expired";
  if (ms < HOUR) return `in ${plural(Math.max(1, Math.round(ms / MINUTE)), "minute")}`;
  if (ms < 2 * DAY) return `in ${plural(Math.round(ms / HOUR), "hour")}`;
  return `in ${plural(Math.round(ms / DAY), "day")}`;
}

/** "1 key", "3 keys". */
export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
}

/** 100000 → "100,000". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** An instant as the admin's locale writes it, to the minute. */
export function dateTime(iso: string | null): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

const UNITS: [number, string][] = [
  [86_400, "day"],
  [3_600, "hour"],
  [60, "minute"],
  [1, "second"],
];

/** A window length: 1 → "second", 60 → "minute", 300 → "5 minutes", 90 → "90 seconds". */
export function windowLength(seconds: number): string {
  for (const [size, unit] of UNITS) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return n === 1 ? unit : plural(n, unit);
    }
  }
  return plural(seconds, "second");
}

/** "300 per minute". */
export function rate(limit: { limit: number; window_seconds: number }): string {
  return `${count(limit.limit)} per ${windowLength(limit.window_seconds)}`;
}

/** A masked key as the lists show it: the prefix and first characters, then an ellipsis. */
export function masked(start: string): string {
  return start.endsWith("…") ? start : `${start}…`;
}

/** Words from a comma- or space-separated list, trimmed, without repeats. */
export function words(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** The expiry choices of the create dialog (the seed products' presets). */
export const EXPIRY_PRESETS = [7, 30, 90, 180, 365] as const;

export type Expiry = { preset: number } | { never: true } | { date: string };

/** The body fields for an expiry choice, or a message saying what is wrong. A date is the end
 *  of that day in the admin's time zone, so "expires on the 30th" covers the 30th. */
export function expiryBody(
  choice: Expiry,
  now: number,
): { ok: { expires_in_days?: number; expires_at?: string } } | { error: string } {
  if ("preset" in choice) return { ok: { expires_in_days: choice.preset } };
  if ("never" in choice) return { ok: {} };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(choice.date)) return { error: "Pick the day the key expires." };
  const end = new Date(`${choice.date}T23:59:59`);
  if (Number.isNaN(end.getTime())) return { error: "Pick the day the key expires." };
  if (end.getTime() <= now) return { error: "The expiry date must be in the future." };
  return { ok: { expires_at: end.toISOString() } };
}

/** `type=a,b` lines into `{type: ["a", "b"]}`, or the line that does not read so. */
export function pairs(text: string, what: string): { ok: Record<string, string[]> } | { error: string } {
  const out: Record<string, string[]> = {};
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    const eq = line.indexOf("=");
    const name = eq > 0 ? line.slice(0, eq).trim() : "";
    const values = eq > 0 ? words(line.slice(eq + 1)) : [];
    if (!name || values.length === 0) {
      return { error: `${what}, line ${i + 1}: write name=value1,value2` };
    }
    out[name] = [...new Set([...(out[name] ?? []), ...values])];
  }
  return { ok: out };
}

/** The inverse of `pairs`: one `name=a,b` line per entry. */
export function pairLines(map: Record<string, string[]>): string {
  return Object.entries(map)
    .map(([name, values]) => `${name}=${values.join(",")}`)
    .join("\n");
}

/** An RFC 3339 instant as a `datetime-local` input shows it (the admin's time zone). */
export function localInput(iso: string | null): string {
  if (!iso || Number.isNaN(Date.parse(iso))) return "";
  const d = new Date(iso);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A `datetime-local` input's value as RFC 3339 (UTC); empty stays empty. */
export function fromLocalInput(value: string): string {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** An audit event's details in a line: `scopes: read, write · grace_period_hours: 24`. */
export function details(value: Record<string, unknown>): string {
  return Object.entries(value)
    .map(([name, v]) => {
      const text = Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(", ") : typeof v === "string" ? v : JSON.stringify(v);
      return `${name}: ${text}`;
    })
    .join(" · ");
}
