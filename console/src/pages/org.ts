// The head of every organization page: where it is, its plan and key use, and the tabs.

import type { App } from "../app";
import type { Org } from "../api";
import { h, type Child } from "../dom";
import { count } from "../format";
import { href, tab, type OrgTab } from "../router";
import { badge } from "../ui";

const TABS: [OrgTab, string][] = [
  ["keys", "Keys"],
  ["audit", "Audit log"],
  ["webhooks", "Webhooks"],
  ["settings", "Settings"],
];

/** "3 of 10 keys" with a meter; "3 keys (no limit)". */
export function keyUse(org: Org): HTMLElement {
  if (org.key_limit === null) return h("span", { class: "key-use" }, `${count(org.key_count)} keys (no limit)`);
  return h(
    "span",
    { class: "key-use" },
    h("meter", { min: 0, max: org.key_limit, value: org.key_count, high: org.key_limit * 0.8, optimum: 0, "aria-hidden": "true" }),
    ` ${count(org.key_count)} of ${count(org.key_limit)} keys`,
  );
}

/** Breadcrumbs, the organization's name, plan and key use, and its tabs (`active` marked). */
export function orgHeader(app: App, org: Org, active: OrgTab | null, title?: Child): HTMLElement {
  const crumbs: Child[] =
    app.session.kind === "operator" ? [h("a", { href: href({ page: "orgs" }) }, "Organizations"), h("span", { "aria-hidden": "true" }, " / ")] : [];
  return h(
    "div",
    { class: "org-head" },
    h("nav", { "aria-label": "Breadcrumb", class: "crumbs" }, crumbs, active ? org.id : h("a", { href: href(tab(org.id, "keys")) }, org.id)),
    title ?? h("h1", {}, org.id),
    h(
      "p",
      { class: "org-facts" },
      badge(`${org.plan} plan`, "info"),
      org.api_access ? badge("API access on", "ok") : badge("API access off", "bad"),
      keyUse(org),
    ),
    active
      ? h(
          "nav",
          { class: "tabs", "aria-label": "Organization" },
          TABS.map(([page, label]) => h("a", { href: href(tab(org.id, page)), "aria-current": page === active ? "page" : null }, label)),
        )
      : null,
  );
}
