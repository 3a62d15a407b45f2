// The controls of the create and edit dialogs. Scopes, resource ids and fields are offered
// from the deployment's route policy when keygate describes it (`GET /v1/policy`); without
// it they are typed. The rate-limit section shows the plan's own windows.

import type { Key, Org, Policy, RateLimit } from "./api";
import { h, uid } from "./dom";
import { EXPIRY_PRESETS, localInput, pairLines, pairs, rate, windowLength, words, type Expiry } from "./format";
import { windows, type KeyDraft } from "./keydraft";
import { choice, field, FormProblem } from "./ui";

export interface KeyFormContext {
  org: Org;
  /** `null`: this keygate does not describe its policy; scopes and the rest are typed. */
  policy: Policy | null;
  operator: boolean;
}

/** The built-in scopes every deployment has. */
const GENERAL_SCOPES: [string, string][] = [
  ["read", "GET and HEAD on every route"],
  ["write", "create, update and delete on every route"],
  ["admin", "manage this organization's keys through the management API"],
];

const WINDOW_CHOICES: [number, string][] = [
  [1, "second"],
  [10, "10 seconds"],
  [60, "minute"],
  [600, "10 minutes"],
  [3600, "hour"],
  [86400, "day"],
];

function checkbox(name: string, value: string, checked: boolean): HTMLInputElement {
  return h("input", { type: "checkbox", name, value, checked });
}

function checked(root: HTMLElement, name: string): string[] {
  return [...root.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
}

/** The scopes section: general scopes, the policy's resource × action grid, other scopes. */
function scopesSection(ctx: KeyFormContext, key: Key | null): { element: HTMLElement; read: () => string[] } {
  const current = new Set(key?.scopes ?? []);
  const offered = new Set<string>();
  const general = GENERAL_SCOPES.map(([scope, hint]) => {
    offered.add(scope);
    return choice(checkbox("scope", scope, current.has(scope)), h("code", {}, scope), `— ${hint}`);
  });
  const grid = (ctx.policy?.resources ?? [])
    .filter((r) => r.actions.length)
    .map((r) =>
      h(
        "div",
        { class: "scope-row", role: "group", "aria-label": `${r.name} scopes` },
        h("span", { class: "scope-resource" }, r.name),
        r.actions.map((action) => {
          const scope = `${r.name}:${action}`;
          offered.add(scope);
          return choice(checkbox("scope", scope, current.has(scope)), action);
        }),
      ),
    );
  const other = h("input", {
    type: "text",
    name: "other-scopes",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "e.g. reports:read, employees:*",
    value: [...current].filter((s) => !offered.has(s)).join(", "),
  });
  const element = h(
    "fieldset",
    {},
    h("legend", {}, "Permissions"),
    h("div", { class: "choices" }, general),
    grid.length ? h("div", { class: "scope-grid" }, h("p", { class: "hint" }, "Per resource of this deployment's routes:"), grid) : null,
    field(
      "Other scopes",
      other,
      "Comma-separated resource:action pairs (actions: read, create, update, delete, download, write, *).",
    ),
  );
  return { element, read: () => [...new Set([...checked(element, "scope"), ...words(other.value)])] };
}

/** Resource ids and fields: per id type and per resource from the policy, else typed. */
function restrictionsSection(ctx: KeyFormContext, key: Key | null): { element: HTMLElement; read: () => Pick<KeyDraft, "resources" | "fields"> } {
  const resources = key?.resources ?? {};
  const fields = key?.fields ?? {};
  const idTypes = [...new Set([...(ctx.policy?.resources ?? []).flatMap((r) => r.id_types), ...(ctx.policy ? Object.keys(resources) : [])])];
  const withFields = (ctx.policy?.resources ?? []).filter((r) => r.fields.length);
  let readResources: () => Record<string, string[]>;
  let readFields: () => Record<string, string[]>;
  const parts: HTMLElement[] = [];
  if (ctx.policy) {
    const inputs = idTypes.map((type) => {
      const input = h("input", { type: "text", autocomplete: "off", spellcheck: "false", value: (resources[type] ?? []).join(", "), "data-type": type });
      parts.push(field(`${type} ids`, input, `Only these ${type} ids (comma-separated); empty: every ${type}.`));
      return input;
    });
    readResources = () =>
      Object.fromEntries(inputs.map((i) => [i.dataset.type ?? "", words(i.value)] as const).filter(([, ids]) => ids.length));
    const groups = withFields.map((r) => {
      const paths = [...new Set([...r.fields, ...(fields[r.name] ?? [])])];
      const box = h(
        "fieldset",
        { class: "nested", "data-resource": r.name },
        h("legend", {}, `${r.name} fields`),
        h("div", { class: "choices inline" }, paths.map((p) => choice(checkbox(`field-${r.name}`, p, (fields[r.name] ?? []).includes(p)), h("code", {}, p)))),
        h("p", { class: "hint" }, "None checked: every field."),
      );
      parts.push(box);
      return [r.name, box] as const;
    });
    readFields = () =>
      Object.fromEntries(groups.map(([name, box]) => [name, checked(box, `field-${name}`)] as const).filter(([, paths]) => paths.length));
  } else {
    const resourceText = h("textarea", { rows: 2, spellcheck: "false", placeholder: "site=site_abc123,site_def456" }, pairLines(resources));
    const fieldText = h("textarea", { rows: 2, spellcheck: "false", placeholder: "employees=name,start_date" }, pairLines(fields));
    parts.push(field("Resource ids", resourceText, "One id type per line: type=id1,id2. Empty: every resource."));
    parts.push(field("Fields", fieldText, "One resource per line: resource=field.path,… Empty: every field."));
    const read = (el: HTMLTextAreaElement, what: string) => () => {
      const parsed = pairs(el.value, what);
      if ("error" in parsed) throw new FormProblem(parsed.error);
      return parsed.ok;
    };
    readResources = read(resourceText, "Resource ids");
    readFields = read(fieldText, "Fields");
  }
  const element = h(
    "details",
    { class: "section", open: Object.keys(resources).length + Object.keys(fields).length > 0 },
    h("summary", {}, "Resources and fields ", h("span", { class: "hint" }, "(optional)")),
    parts.length ? parts : h("p", { class: "hint" }, "This deployment's routes name no resource ids or fields."),
  );
  return { element, read: () => ({ resources: readResources(), fields: readFields() }) };
}

/** Expiry presets (7 / 30 / 90 / 180 / 365 days, never) and a date. */
function expirySection(): { element: HTMLElement; read: () => Expiry } {
  const name = uid("expiry");
  const date = h("input", { type: "date", "aria-label": "Expiry date", disabled: true });
  date.min = localInput(new Date(Date.now() + 86_400_000).toISOString()).slice(0, 10);
  const radio = (value: string, isDefault = false) => h("input", { type: "radio", name, value, checked: isDefault });
  const options = [
    ...EXPIRY_PRESETS.map((days) => choice(radio(String(days), days === 90), `${days} days`)),
    choice(radio("never"), "Never"),
    h("div", { class: "choice extra" }, radio("date"), h("label", {}, "On a date"), date),
  ];
  const element = h(
    "fieldset",
    {},
    h("legend", {}, "Expiration"),
    h("div", { class: "choices inline" }, options),
    h("p", { class: "hint" }, "The key stops working at the end of the chosen day. 90 days suits production keys rotated quarterly."),
  );
  const dateRadio = element.querySelector<HTMLInputElement>('input[value="date"]');
  if (dateRadio) {
    dateRadio.id = uid("c");
    dateRadio.nextElementSibling?.setAttribute("for", dateRadio.id);
  }
  element.addEventListener("change", () => {
    date.disabled = !dateRadio?.checked;
    if (!date.disabled && document.activeElement === dateRadio) date.focus();
  });
  return {
    element,
    read: () => {
      const value = element.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value ?? "never";
      if (value === "never") return { never: true };
      if (value === "date") return { date: date.value };
      return { preset: Number(value) };
    },
  };
}

/** The plan's windows, or custom ones; the operator may also switch limiting off. */
function limitsSection(ctx: KeyFormContext, key: Key | null): { element: HTMLElement; read: () => Pick<KeyDraft, "windows" | "rateLimiting"> } {
  const planWindows = ctx.org.default_rate_limits ?? null;
  const planText = planWindows?.length ? planWindows.map(rate).join(" · ") : "the plan's windows";
  const name = uid("limits");
  const own = (key?.rate_limits.length ?? 0) > 0;
  const usePlan = h("input", { type: "radio", name, value: "plan", checked: !own });
  const useOwn = h("input", { type: "radio", name, value: "own", checked: own });
  const rows = h("div", { class: "window-rows" });
  const addRow = (w: RateLimit | null) => {
    const seconds = w?.window_seconds ?? 60;
    const select = h(
      "select",
      { "aria-label": "Window" },
      [...WINDOW_CHOICES, ...(WINDOW_CHOICES.some(([s]) => s === seconds) ? [] : [[seconds, windowLength(seconds)] as [number, string]])].map(([s, label]) =>
        h("option", { value: s, selected: s === seconds }, `per ${label}`),
      ),
    );
    const row = h(
      "div",
      { class: "window-row" },
      h("input", { type: "text", "aria-label": "Window name", placeholder: "name", value: w?.name ?? "", class: "window-name", spellcheck: "false" }),
      h("input", { type: "number", "aria-label": "Requests", min: 1, step: 1, value: w?.limit ?? "", class: "window-limit", inputmode: "numeric" }),
      select,
      h("button", { type: "button", class: "link", "aria-label": "Remove this window", onclick: () => row.remove() }, "Remove"),
    );
    rows.append(row);
  };
  for (const w of own ? (key?.rate_limits ?? []) : (planWindows ?? [])) addRow(w);
  const add = h("button", { type: "button", class: "secondary small", onclick: () => addRow(null) }, "Add window");
  const custom = h("div", { class: "custom-windows" }, rows, add);
  const sync = () => {
    custom.hidden = !useOwn.checked;
  };
  sync();
  const limiting = ctx.operator ? h("input", { type: "checkbox", checked: key?.rate_limiting ?? true }) : null;
  const element = h(
    "fieldset",
    { onchange: sync },
    h("legend", {}, "Rate limits"),
    choice(usePlan, `Plan defaults (${ctx.org.plan})`, `— ${planText}`),
    choice(useOwn, "Custom windows"),
    custom,
    limiting ? choice(limiting, "Rate limiting on", "— off: no window applies (admin token only)") : null,
  );
  return {
    element,
    read: () => {
      const rateLimiting = limiting ? limiting.checked : undefined;
      if (!useOwn.checked) return { windows: "plan", ...(rateLimiting === undefined ? {} : { rateLimiting }) };
      const parsed = windows(
        [...rows.querySelectorAll<HTMLElement>(".window-row")].map((row) => ({
          name: row.querySelector<HTMLInputElement>(".window-name")?.value ?? "",
          limit: row.querySelector<HTMLInputElement>(".window-limit")?.value ?? "",
          seconds: row.querySelector<HTMLSelectElement>("select")?.value ?? "",
        })),
      );
      if ("error" in parsed) throw new FormProblem(parsed.error);
      return { windows: parsed.ok, ...(rateLimiting === undefined ? {} : { rateLimiting }) };
    },
  };
}

/** The meta JSON (the admin token only: the origin trusts it). */
function metaSection(ctx: KeyFormContext, key: Key | null): { element: HTMLElement; read: () => string | undefined } {
  if (!ctx.operator) {
    return { element: h("p", { class: "hint" }, "Meta: only the admin token can set it."), read: () => undefined };
  }
  const text = h("textarea", { rows: 3, spellcheck: "false", placeholder: '{"team": "data"}' }, key?.meta ? JSON.stringify(key.meta, null, 2) : "");
  return {
    element: field("Meta (JSON object)", text, "Sent to the origin, signed, with every request of this key. At most 2 KiB."),
    read: () => text.value,
  };
}

/** The create form (with expiry) or the edit form of `key` (expiry is fixed at creation). */
export function keyForm(ctx: KeyFormContext, key: Key | null): { element: HTMLElement; read: () => { draft: KeyDraft; expiry: Expiry | null } } {
  const name = h("input", { type: "text", required: true, maxlength: 100, autocomplete: "off", placeholder: "e.g. Reporting Integration", value: key?.name ?? "" });
  const scopes = scopesSection(ctx, key);
  const restrictions = restrictionsSection(ctx, key);
  const expiry = key ? null : expirySection();
  const limits = limitsSection(ctx, key);
  const meta = metaSection(ctx, key);
  const element = h(
    "div",
    { class: "key-form" },
    field("Name", name, "A descriptive name, 3 to 100 characters."),
    scopes.element,
    restrictions.element,
    expiry ? expiry.element : h("p", { class: "hint" }, "The expiry cannot be changed after creation."),
    limits.element,
    meta.element,
  );
  return {
    element,
    read: () => {
      const metaText = meta.read();
      const draft: KeyDraft = {
        name: name.value,
        scopes: scopes.read(),
        ...restrictions.read(),
        ...limits.read(),
        ...(metaText === undefined ? {} : { meta: metaText }),
      };
      return { draft, expiry: expiry ? expiry.read() : null };
    },
  };
}
