// Who is signed in. The credential lives in this tab's sessionStorage only: never in a URL,
// never in localStorage or a cookie, gone when the tab closes or the admin signs out.

/** The admin token (every organization) or an organization's admin-scoped key (its own). */
export type Session =
  | { kind: "operator"; credential: string }
  | { kind: "org"; credential: string; org: string };

const STORAGE_KEY = "keygate.console.session";

export function loadSession(storage: Storage = sessionStorage): Session | null {
  const text = storage.getItem(STORAGE_KEY);
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<{ kind: string; credential: string; org: string }>;
    if (typeof value.credential !== "string" || !value.credential) return null;
    if (value.kind === "operator") return { kind: "operator", credential: value.credential };
    if (value.kind === "org" && typeof value.org === "string" && value.org) {
      return { kind: "org", credential: value.credential, org: value.org };
    }
  } catch {
    // A damaged entry is the same as none: sign in again.
  }
  return null;
}

export function saveSession(session: Session, storage: Storage = sessionStorage): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function forgetSession(storage: Storage = sessionStorage): void {
  storage.removeItem(STORAGE_KEY);
}
