// The organization's audit log, newest first, filtered by event type, key and time (the
// filters are in the address, so a link from a key's page opens its events).

import type { App } from "../app";
import type { AuditEvent } from "../api";
import { h, replace } from "../dom";
import { ago, dateTime, details, fromLocalInput, localInput } from "../format";
import { AUDIT_TYPES } from "../events";
import { href, type OrgRoute } from "../router";
import { badge, empty, errorBox, field, loading, table, type Tone } from "../ui";
import { orgHeader } from "./org";


function tone(type: string): Tone {
  if (/revoked|leaked|failed|failing/.test(type)) return "bad";
  if (/disabled|expir|rate_limited|grace/.test(type)) return "warn";
  if (/created|enabled|succeeded/.test(type)) return "ok";
  return "info";
}

/** Audit events as a table; `withKey` adds the key column (the org log; a key's page has it). */
export function auditTable(app: App, org: string, events: AuditEvent[], withKey: boolean): HTMLElement {
  const now = app.now();
  return table<AuditEvent>(
    "Audit events",
    [
      { label: "When", cell: (e) => h("time", { datetime: e.at, title: dateTime(e.at) }, ago(e.at, now)), class: "aside nowrap" },
      { label: "Event", cell: (e) => badge(e.type, tone(e.type)), class: "title" },
      { label: "Actor", cell: (e) => h("code", {}, e.actor) },
      ...(withKey
        ? [{ label: "Key", cell: (e: AuditEvent) => (e.key_id ? h("a", { href: href({ page: "key", org, id: e.key_id }) }, h("code", {}, e.key_id)) : "—") }]
        : []),
      { label: "Details", cell: (e) => h("span", { class: "details" }, details(e.details) || "—"), class: "wide" },
    ],
    events,
  );
}

export async function auditPage(app: App, route: OrgRoute, body: HTMLElement): Promise<void> {
  const org = await app.api.org(route.org);
  const q = route.query;
  const type = h(
    "select",
    { name: "type" },
    h("option", { value: "" }, "All events"),
    AUDIT_TYPES.map((t) => h("option", { value: t, selected: q.get("type") === t }, t)),
  );
  const key = h("input", { type: "text", name: "key_id", value: q.get("key_id") ?? "", placeholder: "key_…", autocomplete: "off", spellcheck: "false" });
  const since = h("input", { type: "datetime-local", name: "since", value: localInput(q.get("since")) });
  const until = h("input", { type: "datetime-local", name: "until", value: localInput(q.get("until")) });
  const filters = h(
    "form",
    { class: "filters", "aria-label": "Filter events" },
    field("Event", type),
    field("Key id", key),
    field("Since", since),
    field("Until", until),
    h("div", { class: "field filter-submit" }, h("button", { type: "submit", class: "secondary" }, "Apply")),
  );
  const list = h("div", { class: "list", "aria-live": "polite" }, loading("audit events"));
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const query = new URLSearchParams();
    const set = (name: string, value: string) => value && query.set(name, value);
    set("type", type.value);
    set("key_id", key.value.trim());
    set("since", fromLocalInput(since.value));
    set("until", fromLocalInput(until.value));
    app.go({ page: "audit", org: org.id, query });
  });
  type.addEventListener("change", () => filters.requestSubmit());
  body.append(orgHeader(app, org, "audit"), filters, list);

  const events: AuditEvent[] = [];
  const more = h("button", { type: "button", class: "secondary" }, "Load more");
  const load = async (cursor: string | null) => {
    const page = await app.api.audit(org.id, { ...Object.fromEntries(q), limit: 50, cursor });
    events.push(...page.items);
    replace(
      list,
      events.length ? auditTable(app, org.id, events, true) : empty("No events.", q.size ? "No event matches these filters." : "Changes to this organization appear here."),
      page.next_cursor ? h("p", { class: "more" }, more) : null,
    );
    more.onclick = () => void load(page.next_cursor).catch((e: unknown) => list.append(errorBox(e)));
  };
  try {
    await load(null);
  } catch (e) {
    // A filter the API refused (a bad key id, say): its message, and the filters to fix it.
    replace(list, errorBox(e));
  }
}
