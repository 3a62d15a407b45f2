// One key: its settings, its activity (last 24 hours, 7 days, all time; per hour and per
// day; recent requests) and its audit events; edit, disable or enable, rotate with a grace
// period, revoke with a confirmation.

import type { App } from "../app";
import type { AuditEvent, Key, Org, Series, Usage } from "../api";
import { barChart } from "../charts";
import { h, replace, uid, type Child } from "../dom";
import { ago, count, dateTime, expires, masked, plural, rate } from "../format";
import { patchBody } from "../keydraft";
import { keyForm } from "../keyform";
import { href, tab, type Route } from "../router";
import { badge, choice, dialog, empty, errorBox, FormProblem, loading, scopeBadges, statusBadge, table } from "../ui";
import { auditTable } from "./audit";
import { policyOf } from "./keys";
import { orgHeader } from "./org";
import { showSecret } from "./secret";

type KeyRoute = Extract<Route, { page: "key" }>;

export async function keyPage(app: App, route: KeyRoute, body: HTMLElement): Promise<void> {
  const [org, key] = await Promise.all([app.api.org(route.org), app.api.key(route.org, route.id)]);
  const title = h("h1", { class: "key-title" }, key.name, " ", statusBadge(key.status));
  const activity = h("section", { class: "panel", "aria-labelledby": "activity-title" }, h("h2", { id: "activity-title" }, "Activity"), loading("usage"));
  const audit = h("section", { class: "panel", "aria-labelledby": "key-audit-title" }, h("h2", { id: "key-audit-title" }, "Audit events"), loading("audit events"));
  body.append(
    orgHeader(app, org, null, title),
    h("p", { class: "key-line" }, h("code", { class: "masked" }, masked(key.start)), h("span", { class: "muted" }, ` · ${key.id}`)),
    actions(app, org, key),
    h("div", { class: "columns" }, settings(app, org, key), activity),
    audit,
  );
  await Promise.all([
    // A failure replaces the panel's "Loading…", keeping its heading.
    showActivity(app, key, activity).catch((e: unknown) => activity.lastElementChild?.replaceWith(errorBox(e))),
    showAudit(app, key, audit).catch((e: unknown) => audit.lastElementChild?.replaceWith(errorBox(e))),
  ]);
}

function actions(app: App, org: Org, key: Key): HTMLElement {
  const toggle = async (button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      await app.api.updateKey(org.id, key.id, { enabled: !key.enabled });
      app.flash(key.enabled ? `${key.name} is disabled: the gateway refuses it until it is enabled again.` : `${key.name} is enabled again.`);
      app.refresh();
    } catch (e) {
      button.disabled = false;
      button.parentElement?.after(errorBox(e));
    }
  };
  const live = key.status !== "revoked";
  return h(
    "div",
    { class: "key-actions", role: "group", "aria-label": "Key actions" },
    h("button", { type: "button", class: "secondary", onclick: () => void edit(app, org, key), disabled: !live }, "Edit"),
    h(
      "button",
      { type: "button", class: "secondary", onclick: (e: Event) => void toggle(e.currentTarget as HTMLButtonElement), disabled: !live },
      key.enabled ? "Disable" : "Enable",
    ),
    h("button", { type: "button", class: "secondary", onclick: () => void rotate(app, org, key), disabled: !live }, "Rotate"),
    h("button", { type: "button", class: "danger", onclick: () => void revoke(app, org, key), disabled: !live }, "Revoke"),
  );
}

function list(map: Record<string, string[]>): Child {
  const entries = Object.entries(map);
  if (!entries.length) return h("span", { class: "muted" }, "none: every one");
  return h(
    "ul",
    { class: "plain" },
    entries.map(([name, values]) => h("li", {}, h("strong", {}, `${name}: `), values.map((v, i) => [i ? ", " : "", h("code", {}, v)]))),
  );
}

function settings(app: App, org: Org, key: Key): HTMLElement {
  const now = app.now();
  const windows = key.rate_limits.length
    ? key.rate_limits.map((w) => `${w.name}: ${rate(w)}`).join(" · ")
    : `plan defaults${org.default_rate_limits?.length ? ` (${org.default_rate_limits.map(rate).join(" · ")})` : ""}`;
  const rows: [string, Child][] = [
    ["Scopes", scopeBadges(key.scopes)],
    ["Resources", list(key.resources)],
    ["Fields", list(key.fields)],
    ["Rate limits", key.rate_limiting ? windows : badge("rate limiting off", "warn")],
    ["Expires", key.expires_at ? [dateTime(key.expires_at), h("span", { class: "muted" }, ` (${expires(key.expires_at, now)})`)] : "never"],
    ["Created", [dateTime(key.created_at), h("span", { class: "muted" }, ` by ${key.created_by}`)]],
    ["Updated", dateTime(key.updated_at)],
    ["Rotated", dateTime(key.rotated_at)],
    ["Last used", key.last_used_at ? [ago(key.last_used_at, now), h("span", { class: "muted" }, ` (${dateTime(key.last_used_at)})`)] : "never"],
    ["When the guard is down", key.on_limiter_error === "deny" ? "refuse (deny)" : "admit (allow)"],
    ["Revocation bound", key.revocation_bound_ms === null ? "the deployment's" : `${count(key.revocation_bound_ms)} ms`],
    ["Meta", key.meta ? h("pre", { class: "json" }, JSON.stringify(key.meta, null, 2)) : h("span", { class: "muted" }, "none")],
  ];
  return h(
    "section",
    { class: "panel", "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, "Settings"),
    h("dl", { class: "facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
  );
}

const hourLabel = (d: Date) => `${String(d.getHours()).padStart(2, "0")}:00`;
const dayLabel = (d: Date) => d.toLocaleDateString(undefined, { month: "short", day: "numeric" });

async function showActivity(app: App, key: Key, section: HTMLElement): Promise<void> {
  const [usage, hours, days] = await Promise.all([
    app.api.usage(key.org, key.id),
    app.api.series(key.org, key.id, "hour"),
    app.api.series(key.org, key.id, "day"),
  ]);
  const heading = section.querySelector("h2");
  replace(section, heading, tiles(app, usage), charts(hours, days), refusals(usage), recent(app, usage));
}

function tiles(app: App, usage: Usage): HTMLElement {
  const tile = (label: string, value: string) => h("div", { class: "tile" }, h("span", { class: "tile-value" }, value), h("span", { class: "tile-label" }, label));
  return h(
    "div",
    { class: "tiles" },
    tile("Last 24 hours", count(usage.requests_24h)),
    tile("Last 7 days", count(usage.requests_7d)),
    tile("All time", count(usage.requests_total)),
    tile("Last used", usage.last_used_at ? ago(usage.last_used_at, app.now()) : "never"),
  );
}

function charts(hours: Series | null, days: Series | null): HTMLElement {
  if (!hours && !days) {
    return h("p", { class: "muted chart-none" }, "No chart data: this keygate does not keep requests per hour and per day yet.");
  }
  return h(
    "div",
    { class: "charts" },
    hours ? barChart("Requests per hour, last 48 hours", hours.buckets, hourLabel, 12) : h("p", { class: "muted" }, "No hourly chart data."),
    days ? barChart("Requests per day, last 30 days", days.buckets, dayLabel, 7) : h("p", { class: "muted" }, "No daily chart data."),
  );
}

function refusals(usage: Usage): Child {
  const entries = Object.entries(usage.refused);
  if (!entries.length) return null;
  return h(
    "p",
    { class: "refusals" },
    "Refused: ",
    entries.map(([code, n]) => badge(`${code} ${count(n)}`, "bad")),
  );
}

function recent(app: App, usage: Usage): HTMLElement {
  const now = app.now();
  return h(
    "div",
    {},
    h("h3", {}, "Recent requests"),
    usage.recent.length
      ? table(
          "Recent requests",
          [
            { label: "When", cell: (e) => h("time", { datetime: e.at, title: dateTime(e.at) }, ago(e.at, now)), class: "aside nowrap" },
            { label: "Request", cell: (e) => h("code", {}, `${e.method} ${e.path}`), class: "title" },
            { label: "Outcome", cell: (e) => (e.outcome === "admitted" ? badge("admitted", "ok") : badge(e.status ? `${e.status} ${e.outcome}` : e.outcome, "bad")), class: "bare" },
            { label: "Country", cell: (e) => e.country ?? "—" },
          ],
          usage.recent.slice(0, 20),
        )
      : empty("No requests yet.", "Requests made with this key appear here."),
  );
}

async function showAudit(app: App, key: Key, section: HTMLElement): Promise<void> {
  const page = await app.api.audit(key.org, { key_id: key.id, limit: 20 });
  const heading = section.querySelector("h2");
  const events: AuditEvent[] = page.items;
  replace(
    section,
    heading,
    events.length ? auditTable(app, key.org, events, false) : empty("No audit events.", "Changes to this key appear here."),
    h("p", { class: "more" }, h("a", { href: href(tab(key.org, "audit", { key_id: key.id })) }, "All of this key's events in the audit log")),
  );
}

async function edit(app: App, org: Org, key: Key): Promise<void> {
  const policy = await policyOf(app.api).catch(() => null);
  const form = keyForm({ org, policy, operator: app.session.kind === "operator" }, key);
  const { closed } = dialog({
    title: `Edit ${key.name}`,
    body: form.element,
    submitLabel: "Save changes",
    wide: true,
    submit: async () => {
      const built = patchBody(form.read().draft, key);
      if ("error" in built) throw new FormProblem(built.error);
      if (!Object.keys(built.ok).length) return key;
      return app.api.updateKey(org.id, key.id, built.ok);
    },
  });
  form.element.querySelector("input")?.focus();
  if (await closed) {
    app.flash("Changes saved.");
    app.refresh();
  }
}

const GRACE: [number, string][] = [
  [0, "None: the old secret stops at once"],
  [1, "1 hour"],
  [24, "24 hours"],
  [48, "48 hours"],
];

async function rotate(app: App, org: Org, key: Key): Promise<void> {
  const name = uid("grace");
  const custom = h("input", { type: "number", min: 0, max: 720, step: 1, value: 72, disabled: true, "aria-label": "Custom grace period in hours", inputmode: "numeric" });
  const radios = GRACE.map(([hours, label]) => choice(h("input", { type: "radio", name, value: hours, checked: hours === 24 }), label));
  const customRadio = h("input", { type: "radio", name, value: "custom" });
  const group = h(
    "fieldset",
    {},
    h("legend", {}, "How long the old secret keeps working"),
    h("div", { class: "choices" }, radios, h("div", { class: "choice extra" }, customRadio, h("label", { for: (customRadio.id = uid("c")) }, "Custom"), custom, h("span", { class: "hint" }, " hours (0 to 720)"))),
  );
  group.addEventListener("change", () => {
    custom.disabled = !customRadio.checked;
  });
  const { closed } = dialog({
    title: `Rotate ${key.name}`,
    body: [
      h("p", {}, "A new secret replaces the current one; the key keeps its id, settings and usage. Integrations have the grace period to switch to the new secret."),
      group,
    ],
    submitLabel: "Rotate key",
    submit: async () => {
      const chosen = group.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value ?? "24";
      const hours = chosen === "custom" ? Number(custom.value) : Number(chosen);
      if (!Number.isInteger(hours) || hours < 0) throw new FormProblem("The grace period is a whole number of hours.");
      return app.api.rotateKey(org.id, key.id, hours);
    },
  });
  const rotated = await closed;
  if (!rotated?.key) return;
  const until = rotated.previous_key_valid_until;
  const note = until && Date.parse(until) > app.now() ? `The previous secret keeps working until ${dateTime(until)}.` : "The previous secret no longer works.";
  await showSecret("Key rotated: the new secret", rotated.key, "API key", note);
  app.refresh();
}

/** When a revocation acts, by the key's own bound (null: the deployment's, 1 s by default). */
function within(bound: number | null): string {
  if (bound === null) return "within the deployment's revocation bound (a second by default)";
  return bound === 0 ? "from the next request" : `within ${plural(bound, "millisecond")}`;
}

async function revoke(app: App, org: Org, key: Key): Promise<void> {
  const { closed } = dialog({
    title: `Revoke ${key.name}?`,
    body: [
      h("p", { class: "warning" }, `${key.name} (${masked(key.start)}) stops working everywhere ${within(key.revocation_bound_ms)}.`),
      h("p", {}, "This cannot be undone: the key disappears from the API, its history stays in the audit log."),
    ],
    submitLabel: "Revoke key",
    danger: true,
    submit: () => app.api.revokeKey(org.id, key.id),
  });
  const done = await closed;
  if (!done) return;
  app.flash(`${key.name}: ${done.message}.`);
  app.go(tab(org.id, "keys"));
}

