// The console's building blocks: badges, tables that turn into cards on a phone, labelled
// fields, the error box that shows the API's own message, and modal dialogs (<dialog>: the
// browser traps focus, Esc closes, and focus returns to the button that opened it).

import { ApiError } from "./api";
import { append, h, replace, uid, type Child } from "./dom";

export type Tone = "ok" | "warn" | "bad" | "muted" | "info";

export function badge(text: string, tone: Tone = "info"): HTMLElement {
  return h("span", { class: `badge ${tone}` }, text);
}

const STATUS_TONES: Record<string, Tone> = {
  active: "ok",
  disabled: "muted",
  expired: "warn",
  revoked: "bad",
};

export function statusBadge(status: string): HTMLElement {
  return badge(status, STATUS_TONES[status] ?? "info");
}

/** Scopes as badges; `admin` stands out, since it manages the organization. */
export function scopeBadges(scopes: string[]): HTMLElement {
  return h(
    "span",
    { class: "badges" },
    scopes.map((s) => badge(s, s === "admin" ? "warn" : "info")),
  );
}

/** What went wrong, in the API's words (its code beside, for a search or a bug report). */
export function errorBox(error: unknown): HTMLElement {
  const [message, code] =
    error instanceof ApiError
      ? [error.message, error.code]
      : [error instanceof Error ? error.message : String(error), null];
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", {}, message),
    code ? h("span", { class: "code" }, ` (${code})`) : null,
  );
}

export function loading(what: string): HTMLElement {
  return h("p", { class: "loading", role: "status", "aria-live": "polite" }, `Loading ${what}…`);
}

export function empty(title: string, text: string, action?: Child): HTMLElement {
  return h("div", { class: "empty" }, h("p", { class: "empty-title" }, title), h("p", {}, text), action);
}

export interface Column<T> {
  label: string;
  cell: (row: T) => Child;
  /** Classes of the column: `num` (right-aligned), `nowrap`, and how a phone's card shows
   *  it: `title` (first line), `aside` (first line, at the right), `wide` (a line of its
   *  own), `bare` (without its label); others are labelled in small type. */
  class?: string;
}

/** A table; below 700 px each row reads as a card (see `Column.class`). */
export function table<T>(caption: string, columns: Column<T>[], rows: T[]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "cards" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            {},
            columns.map((c) => h("td", { "data-label": c.label, class: c.class }, c.cell(row))),
          ),
        ),
      ),
    ),
  );
}

/** A control with its label (and a hint the control is described by). */
export function field(label: string, control: HTMLElement, hint?: Child): HTMLElement {
  const id = control.id || uid("f");
  control.id = id;
  let hintEl: HTMLElement | null = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

/** A checkbox or radio with its label after it. */
export function choice(input: HTMLInputElement, label: Child, hint?: string): HTMLElement {
  input.id ||= uid("c");
  return h(
    "div",
    { class: "choice" },
    input,
    h("label", { for: input.id }, label, hint ? h("span", { class: "hint" }, ` ${hint}`) : null),
  );
}

/** A button that shows it is working while `work` runs (and cannot be pressed twice). */
export async function busy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T> {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = `${label}…`;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

export interface DialogOptions<T> {
  title: string;
  /** The dialog's content; a form's submit runs `submit`. */
  body: Child;
  /** The main button's label; none: the dialog only informs (with a Close button). */
  submitLabel?: string;
  danger?: boolean;
  /** Runs on submit; the dialog closes when it resolves, shows the error when it throws. */
  submit?: () => Promise<T>;
  wide?: boolean;
}

export interface OpenDialog<T> {
  element: HTMLDialogElement;
  /** What `submit` resolved to once the dialog closed; `null` when it was cancelled. */
  closed: Promise<T | null>;
  submitButton: HTMLButtonElement | null;
}

/** Opens a modal dialog. */
export function dialog<T = void>(options: DialogOptions<T>): OpenDialog<T> {
  const titleId = uid("dlg");
  const problems = h("div", { class: "dialog-problems" });
  const submitButton = options.submitLabel
    ? h("button", { type: "submit", class: options.danger ? "danger" : "primary" }, options.submitLabel)
    : null;
  const cancel = h("button", { type: "button", class: "secondary" }, options.submitLabel ? "Cancel" : "Close");
  const form = h(
    "form",
    { class: "dialog-body", novalidate: true },
    h("h2", { id: titleId }, options.title),
    problems,
    options.body,
    h("div", { class: "actions" }, cancel, submitButton),
  );
  const element = h("dialog", { "aria-labelledby": titleId, class: options.wide ? "wide" : null }, form);
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  let result: T | null = null;
  // While the API works on the request, the dialog stays: its answer may hold a secret shown
  // once (a created or rotated key), and a second submit would do the work twice.
  let running = false;
  cancel.addEventListener("click", () => {
    if (!running) element.close();
  });
  element.addEventListener("cancel", (event) => {
    if (running) event.preventDefault();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const run = options.submit;
    if (!run || !submitButton) {
      element.close();
      return;
    }
    if (running) return;
    running = true;
    cancel.disabled = true;
    replace(problems);
    busy(submitButton, run)
      .then(
        (value) => {
          result = value;
          running = false;
          element.close();
        },
        (error: unknown) => {
          append(problems, [errorBox(error)]);
          problems.scrollIntoView({ block: "nearest" });
        },
      )
      .finally(() => {
        running = false;
        cancel.disabled = false;
      });
  });
  const closed = new Promise<T | null>((resolve) => {
    element.addEventListener("close", () => {
      element.remove();
      if (opener?.isConnected) opener.focus();
      resolve(result);
    });
  });
  document.body.append(element);
  element.showModal();
  return { element, closed, submitButton };
}

/** A problem found before asking the API (a field left empty, JSON that does not parse). */
export class FormProblem extends Error {}
