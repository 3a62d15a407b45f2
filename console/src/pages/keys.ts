// The keys of an organization: search, filter and sort (kept in the address, so a reload or a
// shared link shows the same list), the create dialog and its one-time secret, and the red
// "Revoke ALL keys" with the organization's name typed to confirm.

import type { App } from "../app";
import type { Api, Key, Org, Policy } from "../api";
import { h, replace } from "../dom";
import { ago, count, dateTime, expires, masked } from "../format";
import { createBody } from "../keydraft";
import { keyForm } from "../keyform";
import { href, type OrgRoute } from "../router";
import { dialog, empty, errorBox, field, FormProblem, loading, scopeBadges, statusBadge, table } from "../ui";
import { orgHeader } from "./org";
import { showSecret } from "./secret";


const STATUSES: [string, string][] = [
  ["", "All statuses"],
  ["active", "Active"],
  ["disabled", "Disabled"],
  ["expired", "Expired"],
  ["rotating", "Rotating (old secret in its grace period)"],
];

const SORTS: [string, string][] = [
  ["created", "Created"],
  ["last_used", "Last used"],
  ["requests", "Requests"],
  ["expires", "Expiry"],
];

const ORDERS: [string, string][] = [
  ["desc", "Newest or most first"],
  ["asc", "Oldest or fewest first"],
];

function select(label: string, name: string, options: [string, string][], value: string): HTMLElement {
  const el = h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  return field(label, el);
}

/** The policy, asked once per credential (it changes only with a deployment). */
const policies = new WeakMap<Api, Promise<Policy | null>>();
export function policyOf(api: Api): Promise<Policy | null> {
  let policy = policies.get(api);
  if (!policy) {
    policy = api.policy();
    policies.set(api, policy);
  }
  return policy;
}

export async function keysPage(app: App, route: OrgRoute, body: HTMLElement): Promise<void> {
  const org = await app.api.org(route.org);
  const query = route.query;
  const search = h("input", { type: "search", name: "q", value: query.get("q") ?? "", autocomplete: "off", placeholder: "Name contains…" });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter keys" },
    field("Search by name", search),
    select("Status", "status", STATUSES, query.get("status") ?? ""),
    select("Sort by", "sort", SORTS, query.get("sort") ?? "created"),
    select("Order", "order", ORDERS, query.get("order") ?? "desc"),
  );
  const create = h("button", { type: "button", class: "primary", onclick: () => void createKey(app, org) }, "Create key");
  const list = h("div", { class: "list", "aria-live": "polite" });
  body.append(
    orgHeader(app, org, "keys"),
    h("div", { class: "toolbar" }, filters, create),
    list,
    dangerZone(app, org),
  );

  let timer = 0;
  const current = () => {
    const data = new FormData(filters);
    const q = new URLSearchParams();
    for (const name of ["q", "status", "sort", "order"]) {
      const value = String(data.get(name) ?? "").trim();
      const fallback = name === "sort" ? "created" : name === "order" ? "desc" : "";
      if (value && value !== fallback) q.set(name, value);
    }
    return q;
  };
  const apply = () => {
    const q = current();
    // The address keeps the filters without a new history entry or a redraw (which would
    // take the focus out of the search box).
    history.replaceState(null, "", href({ page: "keys", org: org.id, query: q }));
    void showKeys(app, org, q, list);
  };
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  filters.addEventListener("change", apply);
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(apply, 300);
  });
  await showKeys(app, org, current(), list);
}

let generation = 0;

/** Draws the keys `query` selects into `list`; a later call wins over an earlier one. */
async function showKeys(app: App, org: Org, query: URLSearchParams, list: HTMLElement): Promise<void> {
  const mine = ++generation;
  list.setAttribute("aria-busy", "true");
  // The list shown stays (dimmed) until the new one is there: nothing jumps under the pointer.
  if (!list.firstChild) replace(list, loading("keys"));
  const rows: Key[] = [];
  const more = h("button", { type: "button", class: "secondary" }, "Load more");
  const load = async (cursor: string | null) => {
    const page = await app.api.keys(org.id, { ...Object.fromEntries(query), limit: 50, cursor });
    if (mine !== generation) return;
    rows.push(...page.items);
    list.removeAttribute("aria-busy");
    if (!rows.length) {
      const filtered = [...query.keys()].some((k) => k === "q" || k === "status");
      replace(
        list,
        filtered
          ? empty("No key matches.", "Change the search or the status filter.")
          : empty("No keys yet.", "Create the first key: its secret is shown once, then only its start."),
      );
      return;
    }
    replace(list, keyTable(app, org, rows), page.next_cursor ? h("p", { class: "more" }, more) : null);
    more.onclick = () => void load(page.next_cursor).catch((e: unknown) => list.append(errorBox(e)));
  };
  try {
    await load(null);
  } catch (e) {
    if (mine === generation) {
      list.removeAttribute("aria-busy");
      replace(list, errorBox(e));
    }
  }
}

function keyTable(app: App, org: Org, keys: Key[]): HTMLElement {
  const now = app.now();
  return table<Key>(
    `Keys of ${org.id}`,
    [
      { label: "Name", cell: (k) => h("a", { href: href({ page: "key", org: org.id, id: k.id }), class: "key-name" }, k.name), class: "title" },
      { label: "Key", cell: (k) => h("code", { class: "masked" }, masked(k.start)), class: "bare" },
      { label: "Scopes", cell: (k) => scopeBadges(k.scopes), class: "wide" },
      {
        label: "Last used",
        cell: (k) => (k.last_used_at ? h("time", { datetime: k.last_used_at, title: dateTime(k.last_used_at) }, `used ${ago(k.last_used_at, now)}`) : h("span", { class: "muted" }, "never used")),
        class: "bare nowrap",
      },
      { label: "Requests", cell: (k) => count(k.requests_total), class: "num" },
      { label: "Expires", cell: (k) => (k.expires_at ? h("time", { datetime: k.expires_at, title: dateTime(k.expires_at) }, expires(k.expires_at, now)) : "never") },
      { label: "Status", cell: (k) => statusBadge(k.status), class: "aside" },
    ],
    keys,
  );
}

/** Whether a create dialog is opening or open: a double click opens one, not two. */
let creating = false;

/** The create dialog; on success, the one-time secret, then the list again. */
export async function createKey(app: App, org: Org): Promise<void> {
  if (creating) return;
  creating = true;
  try {
    await createKeyOnce(app, org);
  } finally {
    creating = false;
  }
}

async function createKeyOnce(app: App, org: Org): Promise<void> {
  const policy = await policyOf(app.api).catch(() => null);
  const form = keyForm({ org, policy, operator: app.session.kind === "operator" }, null);
  const { closed } = dialog({
    title: "Create API key",
    body: form.element,
    submitLabel: "Create key",
    wide: true,
    submit: async () => {
      const { draft, expiry } = form.read();
      const built = createBody(draft, expiry ?? { never: true }, app.now());
      if ("error" in built) throw new FormProblem(built.error);
      return app.api.createKey(org.id, built.ok);
    },
  });
  form.element.querySelector("input")?.focus();
  const key = await closed;
  if (!key?.key) return;
  await showSecret("Your new API key", key.key, "API key", `${key.name} (${masked(key.start)}). Send it as Authorization: Bearer <key> or in X-API-Key.`);
  app.go({ page: "key", org: org.id, id: key.id });
}

/** Revoke every key, confirmed by typing the organization's name. */
function dangerZone(app: App, org: Org): HTMLElement {
  const open = () => {
    const typed = h("input", { type: "text", autocomplete: "off", spellcheck: "false", "aria-required": "true" });
    const { closed, submitButton } = dialog({
      title: `Revoke ALL keys of ${org.id}`,
      body: [
        h("p", { class: "warning" }, `Every key of ${org.id} (${count(org.key_count)} now) stops working at once.`),
        h("p", {}, "This process cannot be reversed: new keys must be created and replaced in every system that used the old ones."),
        field(`Type ${org.id} to confirm`, typed),
      ],
      submitLabel: "Revoke ALL keys",
      danger: true,
      submit: async () => {
        if (typed.value !== org.id) throw new FormProblem(`Type ${org.id} exactly to confirm.`);
        return app.api.revokeAll(org.id);
      },
    });
    if (submitButton) submitButton.disabled = true;
    typed.addEventListener("input", () => {
      if (submitButton) submitButton.disabled = typed.value !== org.id;
    });
    typed.focus();
    void closed.then((done) => {
      if (!done) return;
      app.flash(done.message);
      app.refresh();
    });
  };
  return h(
    "section",
    { class: "danger-zone", "aria-labelledby": "danger-title" },
    h("h2", { id: "danger-title" }, "Danger zone"),
    h("p", {}, "Revoke every key of this organization at once, for instance after a breach. This cannot be undone."),
    h("button", { type: "button", class: "danger", onclick: open }, "Revoke ALL keys"),
  );
}
