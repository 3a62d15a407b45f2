// Sign in: the admin pastes the admin token or an organization's admin-scoped key. Which one
// it is, keygate says: `GET /v1/orgs` answers the admin token and refuses (403) an
// organization's key, whose organization is then asked for (no API answer names it).

import { Api, ApiError } from "../api";
import { h, replace } from "../dom";
import { saveSession, type Session } from "../session";
import { busy, errorBox, field } from "../ui";

export async function signInPage(main: HTMLElement, root: string, signedIn: (s: Session) => void): Promise<void> {
  const credential = h("input", { type: "password", name: "credential", autocomplete: "off", spellcheck: "false", required: true });
  const org = h("input", { type: "text", name: "org", autocomplete: "off", spellcheck: "false", placeholder: "e.g. acme" });
  const problems = h("div", { class: "problems" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { novalidate: true },
    field("Admin token or admin API key", credential),
    field("Organization", org, "Only for an organization's admin key: the id of its organization."),
    problems,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    replace(problems);
    void busy(submit, () => identify(root, credential.value.trim(), org.value.trim())).then(
      (session) => {
        saveSession(session);
        signedIn(session);
      },
      (error: unknown) => {
        problems.append(errorBox(error));
        (error instanceof NeedsOrg ? org : credential).focus();
      },
    );
  });
  main.append(
    h(
      "div",
      { class: "signin" },
      h(
        "section",
        { class: "card" },
        h("h1", {}, h("img", { src: "favicon.svg", alt: "", width: 28, height: 28 }), "keygate console"),
        h("p", {}, "Sign in with the admin token (every organization) or an API key with the admin scope (its own organization)."),
        form,
        h("p", { class: "hint" }, "The credential stays in this browser tab (sessionStorage), is sent only to this keygate, and is forgotten when you sign out or close the tab."),
      ),
    ),
  );
  credential.focus();
}

/** An organization's key without its organization: the one problem the API cannot word. */
class NeedsOrg extends Error {}

async function identify(root: string, credential: string, org: string): Promise<Session> {
  if (!credential) throw new Error("Paste the admin token or an admin API key.");
  const api = new Api(root, credential);
  try {
    await api.orgs();
    return { kind: "operator", credential };
  } catch (e) {
    // 403: a valid key with the admin scope, not the admin token. Anything else is the answer.
    if (!(e instanceof ApiError && e.status === 403)) throw e;
  }
  if (!org) throw new NeedsOrg("This is an organization's admin key: enter the id of its organization.");
  await api.org(org);
  return { kind: "org", credential, org };
}
