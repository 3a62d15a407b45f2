// The organization's webhook endpoints: add one (its signing secret shown once), send a test,
// pause or resume, rotate the secret, remove, and see the last deliveries.

import type { App } from "../app";
import type { Delivery, Org, Webhook } from "../api";
import { h, replace } from "../dom";
import { ago, dateTime } from "../format";
import { WEBHOOK_EVENTS } from "../events";
import { tab, type OrgRoute } from "../router";
import { badge, busy, choice, dialog, empty, errorBox, field, FormProblem, table } from "../ui";
import { orgHeader } from "./org";
import { showSecret } from "./secret";


export async function webhooksPage(app: App, route: OrgRoute, body: HTMLElement): Promise<void> {
  const [org, hooks] = await Promise.all([app.api.org(route.org), app.api.webhooks(route.org)]);
  const add = h("button", { type: "button", class: "primary", onclick: () => void addWebhook(app, org) }, "Add endpoint");
  body.append(
    orgHeader(app, org, "webhooks"),
    h(
      "div",
      { class: "toolbar center" },
      h("p", { class: "hint" }, "keygate POSTs signed events (Standard Webhooks) to these URLs, with retries for a day."),
      add,
    ),
    hooks.length ? h("div", { class: "webhooks" }, hooks.map((w) => card(app, org, w))) : empty("No webhook endpoints.", "Add one to hear about keys expiring, revoked, rate-limited or leaked."),
  );
}

function card(app: App, org: Org, hook: Webhook): HTMLElement {
  const problems = h("div", {});
  const deliveries = h("div", { class: "deliveries" });
  const act = (label: string, work: () => Promise<unknown>, done: string, cls = "secondary small") => {
    const button = h("button", { type: "button", class: cls }, label);
    button.addEventListener("click", () => {
      replace(problems);
      busy(button, work).then(
        () => {
          app.flash(done);
          app.refresh();
        },
        (e: unknown) => problems.append(errorBox(e)),
      );
    });
    return button;
  };
  const show = h("button", { type: "button", class: "link", "aria-expanded": "false" }, "Show deliveries");
  show.addEventListener("click", () => {
    const open = show.getAttribute("aria-expanded") === "true";
    show.setAttribute("aria-expanded", String(!open));
    show.textContent = open ? "Show deliveries" : "Hide deliveries";
    if (open) return replace(deliveries);
    app.api.deliveries(org.id, hook.id).then(
      (list) => replace(deliveries, deliveryTable(app, list)),
      (e: unknown) => replace(deliveries, errorBox(e)),
    );
  });
  const remove = h("button", { type: "button", class: "danger small" }, "Remove");
  remove.addEventListener("click", () => {
    replace(problems);
    void confirmRemove(app, org, hook).catch((e: unknown) => problems.append(errorBox(e)));
  });
  const rotate = h("button", { type: "button", class: "secondary small" }, "Rotate secret");
  rotate.addEventListener("click", () => {
    replace(problems);
    void confirmRotate(app, org, hook).catch((e: unknown) => problems.append(errorBox(e)));
  });
  return h(
    "article",
    { class: "panel webhook" },
    h(
      "h2",
      { class: "webhook-url" },
      h("code", {}, hook.url),
      " ",
      hook.enabled ? badge("enabled", "ok") : badge("paused", "muted"),
      hook.failing ? badge("failing", "bad") : null,
    ),
    h("p", { class: "badges" }, hook.events.map((e) => badge(e, "info"))),
    h("p", { class: "hint" }, `Added ${ago(hook.created_at, app.now())} · ${hook.id}`),
    h(
      "div",
      { class: "key-actions", role: "group", "aria-label": `Actions for ${hook.url}` },
      act("Send test event", () => app.api.testWebhook(org.id, hook.id), "A webhook.test event is on its way."),
      act(hook.enabled ? "Pause" : "Resume", () => app.api.updateWebhook(org.id, hook.id, { enabled: !hook.enabled }), hook.enabled ? "Endpoint paused." : "Endpoint resumed."),
      rotate,
      remove,
    ),
    problems,
    show,
    deliveries,
  );
}

function deliveryTable(app: App, list: Delivery[]): HTMLElement {
  if (!list.length) return empty("No deliveries yet.", "Events sent to this endpoint appear here.");
  const now = app.now();
  const tones = { delivered: "ok", pending: "warn", given_up: "bad" } as const;
  return table<Delivery>(
    "Deliveries",
    [
      { label: "When", cell: (d) => h("time", { datetime: d.created_at, title: dateTime(d.created_at) }, ago(d.created_at, now)), class: "bare nowrap" },
      { label: "Event", cell: (d) => h("code", {}, d.type), class: "title" },
      { label: "Status", cell: (d) => badge(d.status, tones[d.status]), class: "aside" },
      { label: "Tries", cell: (d) => String(d.attempts), class: "num" },
      { label: "Last answer", cell: (d) => d.last_error ?? (d.last_status === null ? "—" : String(d.last_status)) },
    ],
    list,
  );
}

async function addWebhook(app: App, org: Org): Promise<void> {
  const url = h("input", { type: "url", required: true, autocomplete: "off", spellcheck: "false", placeholder: "https://example.com/keygate-events" });
  const boxes = WEBHOOK_EVENTS.map(([name]) => h("input", { type: "checkbox", value: name, checked: name !== "webhook.test" }));
  const { closed } = dialog({
    title: "Add webhook endpoint",
    body: [
      field("URL", url, "An absolute http(s) URL, without credentials or fragment."),
      h("fieldset", {}, h("legend", {}, "Events"), h("div", { class: "choices" }, boxes.map((box, i) => choice(box, h("code", {}, box.value), `— ${WEBHOOK_EVENTS[i]?.[1] ?? ""}`)))),
    ],
    submitLabel: "Add endpoint",
    submit: () => {
      const events = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!events.length) throw new FormProblem("Choose at least one event.");
      return app.api.createWebhook(org.id, { url: url.value.trim(), events });
    },
  });
  url.focus();
  const hook = await closed;
  if (!hook?.secret) return;
  await showSecret("Webhook added: its signing secret", hook.secret, "signing secret", "Verify every delivery with it (webhook-signature header).");
  app.go(tab(org.id, "webhooks"));
}

/** Removing an endpoint drops its pending deliveries too: asked first, like a revoke. */
async function confirmRemove(app: App, org: Org, hook: Webhook): Promise<void> {
  const { closed } = dialog({
    title: "Remove this endpoint?",
    body: h("p", { class: "warning" }, `${hook.url} gets no more events, and its pending deliveries are dropped.`),
    submitLabel: "Remove endpoint",
    danger: true,
    submit: () => app.api.deleteWebhook(org.id, hook.id).then(() => true),
  });
  if (await closed) {
    app.flash("Endpoint removed, with its pending deliveries.");
    app.refresh();
  }
}

async function confirmRotate(app: App, org: Org, hook: Webhook): Promise<void> {
  const { closed } = dialog({
    title: "Rotate the signing secret?",
    body: h("p", { class: "warning" }, `The current secret of ${hook.url} stops at once: deliveries are signed with the new one from now on.`),
    submitLabel: "Rotate secret",
    danger: true,
    submit: () => app.api.rotateWebhookSecret(org.id, hook.id),
  });
  const rotated = await closed;
  if (!rotated?.secret) return;
  await showSecret("New signing secret", rotated.secret, "signing secret");
  app.refresh();
}
