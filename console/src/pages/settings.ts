// An organization's settings: what a leaked key becomes (on_leak), and its plan and API
// access. `PUT /orgs/{org}` is the admin token's: an organization's admin key sees them,
// read-only, with the reason.

import type { App } from "../app";
import type { OnLeak, Org, Plan } from "../api";
import { h, uid } from "../dom";
import { rate } from "../format";
import type { OrgRoute } from "../router";
import { busy, choice, errorBox, field } from "../ui";
import { orgHeader } from "./org";


const ON_LEAK: [OnLeak, string][] = [
  ["revoke", "Revoke the key at once (recommended): it never works again."],
  ["disable", "Disable it: it stops working until an admin enables it again."],
  ["notify", "Only report it: the audit log and a key.leaked webhook say so, the key keeps working."],
];

const PLANS: Plan[] = ["free", "pro", "business", "enterprise"];

/** A form that sends `body()` with `PUT /orgs/{org}`, or says why it cannot. */
function settingsForm(app: App, org: Org, title: string, intro: string, controls: HTMLElement[], body: () => Partial<Pick<Org, "plan" | "api_access" | "on_leak">>): HTMLElement {
  const operator = app.session.kind === "operator";
  const problems = h("div", {});
  const save = h("button", { type: "submit", class: "primary", disabled: !operator }, "Save");
  const titleId = uid("s");
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": titleId },
    h("h2", { id: titleId }, title),
    h("p", {}, intro),
    h("fieldset", { disabled: !operator, class: "bare" }, h("legend", { class: "visually-hidden" }, title), controls),
    problems,
    operator ? save : h("p", { class: "hint" }, "Only the admin token can change this."),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    problems.replaceChildren();
    busy(save, () => app.api.putOrg(org.id, body())).then(
      () => {
        app.flash(`${title}: saved.`);
        app.refresh();
      },
      (error: unknown) => problems.append(errorBox(error)),
    );
  });
  return form;
}

export async function settingsPage(app: App, route: OrgRoute, body: HTMLElement): Promise<void> {
  const org = await app.api.org(route.org);
  const name = uid("leak");
  const leakRadios = ON_LEAK.map(([value, text]) => choice(h("input", { type: "radio", name, value, checked: org.on_leak === value }), h("strong", {}, value), `— ${text}`));
  const leak = settingsForm(
    app,
    org,
    "Leaked keys",
    "What a key becomes when GitHub secret scanning, or anyone, reports it found in public.",
    [h("div", { class: "choices" }, leakRadios)],
    () => ({ on_leak: (leak.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value ?? org.on_leak) as OnLeak }),
  );
  const plan = h("select", {}, PLANS.map((p) => h("option", { value: p, selected: p === org.plan }, p)));
  const access = h("input", { type: "checkbox", checked: org.api_access });
  const terms = settingsForm(
    app,
    org,
    "Plan and API access",
    `The plan sets the key limit and the default windows${org.default_rate_limits?.length ? ` (now ${org.default_rate_limits.map(rate).join(" · ")})` : ""}.`,
    [field("Plan", plan), choice(access, "API access", "— off: every key of the organization is refused (403 api_plan_required)")],
    () => ({ plan: plan.value as Plan, api_access: access.checked }),
  );
  body.append(orgHeader(app, org, "settings"), h("div", { class: "columns halves" }, leak, terms));
}

