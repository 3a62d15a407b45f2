// Organizations (the admin token only): plan, API access, keys used of the plan's limit, and a
// dialog to add one.

import type { App } from "../app";
import { ApiError, type Org, type Plan } from "../api";
import { h, replace } from "../dom";
import { ago, dateTime } from "../format";
import { href, tab } from "../router";
import { FormProblem, badge, dialog, empty, errorBox, field, loading, table } from "../ui";
import { keyUse } from "./org";

const PLANS: Plan[] = ["free", "pro", "business", "enterprise"];

export async function orgsPage(app: App, body: HTMLElement): Promise<void> {
  const list = h("div", { class: "list" }, loading("organizations"));
  const add = () => h("button", { type: "button", class: "primary", onclick: () => void newOrg(app) }, "New organization");
  body.append(h("div", { class: "page-head" }, h("h1", {}, "Organizations"), add()), list);
  const rows: Org[] = [];
  const more = h("button", { type: "button", class: "secondary" }, "Load more");
  const load = async (cursor: string | null) => {
    const page = await app.api.orgs(cursor);
    rows.push(...page.items);
    if (!rows.length) {
      replace(list, empty("No organizations yet.", "An organization holds keys under one plan.", add()));
      return;
    }
    replace(
      list,
      table<Org>(
        "Organizations",
        [
          { label: "Organization", cell: (o) => h("a", { href: href(tab(o.id, "keys")), class: "key-name" }, o.id), class: "title" },
          { label: "Plan", cell: (o) => badge(o.plan, "info"), class: "aside" },
          { label: "API access", cell: (o) => (o.api_access ? badge("on", "ok") : badge("off", "bad")) },
          { label: "Keys", cell: keyUse, class: "bare" },
          { label: "On leak", cell: (o) => o.on_leak },
          { label: "Created", cell: (o) => h("time", { datetime: o.created_at, title: dateTime(o.created_at) }, ago(o.created_at, app.now())) },
        ],
        rows,
      ),
      page.next_cursor ? h("p", { class: "more" }, more) : null,
    );
    more.onclick = () => void load(page.next_cursor).catch((e: unknown) => list.append(errorBox(e)));
  };
  await load(null);
}

/** `PUT /orgs/{id}` with a plan, for an id no organization has yet: `PUT` would also change an
 *  existing organization's plan, which is the settings page's business, not this dialog's. */
async function newOrg(app: App): Promise<void> {
  const id = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: "false", maxlength: 64, placeholder: "e.g. acme" });
  const plan = h("select", {}, PLANS.map((p) => h("option", { value: p, selected: p === "pro" }, p)));
  const { closed } = dialog({
    title: "New organization",
    body: [field("Organization id", id, "1 to 64 of a-z, 0-9, _ and -, starting with a letter or digit."), field("Plan", plan, "Free: 2 keys; pro: 10; business: 50; enterprise: no limit.")],
    submitLabel: "Create organization",
    submit: async () => {
      const wanted = id.value.trim();
      const existing = await app.api.org(wanted).then(
        () => true,
        (error: unknown) => {
          if (error instanceof ApiError && error.code === "org_not_found") return false;
          throw error;
        },
      );
      if (existing) throw new FormProblem(`Organization ${wanted} already exists: change its plan on its Settings tab.`);
      return app.api.putOrg(wanted, { plan: plan.value as Plan });
    },
  });
  id.focus();
  const org = await closed;
  if (org) {
    app.flash(`Organization ${org.id} is ready on the ${org.plan} plan.`);
    app.go(tab(org.id, "keys"));
  }
}
