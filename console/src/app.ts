// The console's frame: who is signed in, the top bar, the route table, and the one place a
// page is drawn. Each route change draws into a fresh <main>; a page that answers late writes
// into a detached one, never over the page the admin moved on to.

import { Api, ApiError, apiRoot } from "./api";
import { h, replace } from "./dom";
import { href, parse, type Route } from "./router";
import { forgetSession, loadSession, type Session } from "./session";
import { auditPage } from "./pages/audit";
import { keyPage } from "./pages/key";
import { keysPage } from "./pages/keys";
import { orgsPage } from "./pages/orgs";
import { settingsPage } from "./pages/settings";
import { signInPage } from "./pages/signin";
import { webhooksPage } from "./pages/webhooks";
import { empty, errorBox } from "./ui";

/** What a page gets: the API with the signed-in credential, and the frame's services. */
export interface App {
  api: Api;
  session: Session;
  /** Goes to `route` (a new history entry). */
  go(route: Route): void;
  /** Draws the current route again (after a change). */
  refresh(): void;
  /** A message for the next page drawn (after an action that leaves the page). */
  flash(message: string): void;
  /** The current time, ms (relative times are computed from it). */
  now(): number;
}

export function start(root: HTMLElement): void {
  let pending: string | null = null;
  const rootPath = apiRoot(location.pathname);

  // One client per sign-in, so what it asked once (the policy) is asked once.
  const app = (s: Session): App => ({
    api: new Api(rootPath, s.credential),
    session: s,
    go: (route) => {
      const target = href(route);
      if (location.hash === target) draw();
      else location.hash = target;
    },
    refresh: () => draw(),
    flash: (message) => {
      pending = message;
    },
    now: () => Date.now(),
  });
  const saved = loadSession();
  let current: App | null = saved ? app(saved) : null;

  const signOut = () => {
    forgetSession();
    current = null;
    location.hash = "#/";
    draw();
  };

  function topBar(s: Session): HTMLElement {
    const who = s.kind === "operator" ? "Admin token: every organization" : `Admin key of ${s.org}`;
    return h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/" }, h("img", { src: "favicon.svg", alt: "", width: 24, height: 24 }), "keygate", h("span", {}, "console")),
      h("span", { class: "who" }, who),
      h("button", { type: "button", class: "secondary small", onclick: signOut }, "Sign out"),
    );
  }

  function draw(): void {
    const main = h("main", { id: "main", tabindex: -1 });
    if (!current) {
      replace(root, main);
      void signInPage(main, rootPath, (s) => {
        current = app(s);
        draw();
      });
      return;
    }
    const route = parse(location.hash);
    const flash = pending;
    pending = null;
    replace(root, topBar(current.session), main);
    if (flash) main.append(h("p", { class: "flash", role: "status" }, flash));
    const body = h("div", { class: "page" });
    main.append(body);
    void show(current, route, body)
      .catch((error: unknown) => {
        const lost = error instanceof ApiError && error.status === 401;
        replace(
          body,
          h("h1", {}, lost ? "Signed out by keygate" : "Something went wrong"),
          errorBox(error),
          lost ? h("p", {}, h("button", { type: "button", class: "primary", onclick: signOut }, "Sign in again")) : null,
        );
      })
      .then(() => {
      // Keyboard and screen-reader users land on the new page's heading, unless they already
      // moved into the page or a dialog.
      const heading = body.querySelector<HTMLElement>("h1");
      if (heading && !main.contains(document.activeElement) && !document.querySelector("dialog[open]")) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    });
  }

  /** Draws `route`'s page into `body`. */
  async function show(a: App, route: Route, body: HTMLElement): Promise<void> {
    const s = a.session;
    switch (route.page) {
      case "home":
        return s.kind === "operator" ? orgsPage(a, body) : a.go({ page: "keys", org: s.org, query: new URLSearchParams() });
      case "orgs":
        return s.kind === "operator" ? orgsPage(a, body) : a.go({ page: "home" });
      case "keys":
        return keysPage(a, route, body);
      case "key":
        return keyPage(a, route, body);
      case "audit":
        return auditPage(a, route, body);
      case "webhooks":
        return webhooksPage(a, route, body);
      case "settings":
        return settingsPage(a, route, body);
      case "missing":
        body.append(h("h1", {}, "Not found"), empty("There is no such page.", "Go back to the start.", h("a", { href: "#/" }, "Start")));
        return;
    }
  }

  window.addEventListener("hashchange", draw);
  draw();
}
