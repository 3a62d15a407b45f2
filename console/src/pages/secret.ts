// The one-time secret dialog: the key (or a webhook's signing secret) as keygate will never
// show it again, selectable, with a Copy button (Clipboard API; when the browser refuses, the
// text is selected for Ctrl+C).

import { h } from "../dom";
import { dialog } from "../ui";

export async function showSecret(title: string, secret: string, what: string, note?: string): Promise<void> {
  // A text area: the whole secret shows, wrapped, on a phone too.
  const value = h("textarea", { readonly: true, rows: 1, class: "secret", spellcheck: "false", "aria-label": what, onfocus: (e: Event) => (e.target as HTMLTextAreaElement).select() }, secret);
  const status = h("p", { class: "copy-status", role: "status", "aria-live": "polite" });
  const copy = h("button", { type: "button", class: "primary" }, "Copy");
  copy.addEventListener("click", () => {
    navigator.clipboard.writeText(secret).then(
      () => {
        status.textContent = "Copied to the clipboard.";
      },
      () => {
        value.focus();
        value.select();
        status.textContent = "The browser did not allow copying: the text is selected, press Ctrl+C (⌘C on a Mac).";
      },
    );
  });
  const { element, closed } = dialog({
    title,
    body: [
      h("p", { class: "warning" }, `This ${what} will not be visible in the future. Please copy it now.`),
      h("div", { class: "secret-row" }, value, copy),
      status,
      note ? h("p", { class: "hint" }, note) : null,
    ],
    submitLabel: "Done",
  });
  element.classList.add("secret-dialog");
  // One way out, after the warning: "Done" (Esc still closes, as every dialog does).
  element.querySelector<HTMLButtonElement>(".actions .secondary")?.remove();
  copy.focus();
  await closed;
}
