// Hash routes: `#/orgs/acme/keys/key_…`. The hash never reaches the server, and nothing
// secret is ever in it (the credential is in sessionStorage only).

export type OrgTab = "keys" | "audit" | "webhooks" | "settings";

/** A tab of an organization, with its filters. */
export interface OrgRoute {
  page: OrgTab;
  org: string;
  query: URLSearchParams;
}

export type Route =
  | { page: "home" }
  | { page: "orgs" }
  | OrgRoute
  | { page: "key"; org: string; id: string }
  | { page: "missing"; hash: string };

const TABS: readonly OrgTab[] = ["keys", "audit", "webhooks", "settings"];

/** The route of `hash` (`location.hash`, with or without the `#`). */
export function parse(hash: string): Route {
  const text = hash.replace(/^#/, "");
  const [path = "", search = ""] = text.split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decode);
  const query = new URLSearchParams(search);
  if (parts.some((p) => p === null)) return { page: "missing", hash: text };
  const [a, org, tab, id, extra] = parts as string[];
  if (a === undefined) return { page: "home" };
  if (a !== "orgs") return { page: "missing", hash: text };
  if (org === undefined) return { page: "orgs" };
  if (tab === undefined) return { page: "keys", org, query };
  if (tab === "keys" && id !== undefined && extra === undefined) return { page: "key", org, id };
  if (id === undefined && (TABS as readonly string[]).includes(tab)) {
    return { page: tab as OrgTab, org, query };
  }
  return { page: "missing", hash: text };
}

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The hash of a route, e.g. `#/orgs/acme/keys?status=active`. */
export function href(route: Route): string {
  const seg = encodeURIComponent;
  switch (route.page) {
    case "home":
      return "#/";
    case "orgs":
      return "#/orgs";
    case "key":
      return `#/orgs/${seg(route.org)}/keys/${seg(route.id)}`;
    case "missing":
      return `#${route.hash}`;
    default: {
      const search = route.query.toString();
      return `#/orgs/${seg(route.org)}/${route.page}${search ? `?${search}` : ""}`;
    }
  }
}

/** A tab of an organization, without filters. */
export function tab(org: string, page: OrgTab, query: Record<string, string> = {}): Route {
  return { page, org, query: new URLSearchParams(query) };
}
