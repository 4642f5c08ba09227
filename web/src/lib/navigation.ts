// Where a navigation may go: members' pages need a session, sign-in does not want one, and a
// share link opens sign-up. Kept apart from the router so it can be tested without a browser.
import type { RouteLocationNormalized } from "vue-router";

declare module "vue-router" {
  interface RouteMeta {
    /** Only for a signed-in member; others are sent to sign-in. */
    member?: boolean;
    /** Sign-in and sign-up: a signed-in member goes home instead. */
    guest?: boolean;
    mode?: "signin" | "signup";
  }
}

/** A path inside the app to return to after signing in; anything else (another origin) is ignored. */
export function safeNext(value: unknown): string | null {
  return typeof value === "string" && /^\/(?![/\\])/.test(value) ? value : null;
}

export function guard(to: RouteLocationNormalized, signedIn: boolean) {
  // A share link: /app/?ref=CODE opens sign-up with the code filled in.
  if (to.path === "/" && typeof to.query.ref === "string" && to.query.ref) {
    return { path: "/signup", query: to.query };
  }
  if (to.meta.member && !signedIn) {
    const { lang } = to.query;
    return { path: "/", query: { ...(lang ? { lang } : {}), next: to.fullPath } };
  }
  if (to.meta.guest && signedIn) return { path: "/home" };
  return true;
}

