import { createRouter, createWebHistory, type RouteLocationNormalized } from "vue-router";
import { current, isLive } from "./lib/session";
import SignIn from "./pages/SignIn.vue";

declare module "vue-router" {
  interface RouteMeta {
    /** Only for a signed-in member; others are sent to sign-in. */
    member?: boolean;
    /** Sign-in and sign-up: a signed-in member goes home instead. */
    guest?: boolean;
    mode?: "signin" | "signup";
  }
}

// Pages other than sign-in load on first visit: the first load stays small (docs/web.md, budget).
export const routes = [
  { path: "/", alias: "/signin", component: SignIn, meta: { guest: true, mode: "signin" as const } },
  { path: "/signup", component: SignIn, meta: { guest: true, mode: "signup" as const } },
  { path: "/recover", component: () => import("./pages/Recover.vue") },
  { path: "/rules", component: () => import("./pages/Rules.vue") },
  { path: "/home", component: () => import("./pages/Home.vue"), meta: { member: true } },
  { path: "/rewards", component: () => import("./pages/Rewards.vue"), meta: { member: true } },
  { path: "/history", component: () => import("./pages/History.vue"), meta: { member: true } },
  { path: "/wallet", component: () => import("./pages/Wallet.vue"), meta: { member: true } },
  { path: "/coupons", component: () => import("./pages/Coupons.vue"), meta: { member: true } },
  { path: "/profile", component: () => import("./pages/Profile.vue"), meta: { member: true } },
  { path: "/referral", component: () => import("./pages/Referral.vue"), meta: { member: true } },
  { path: "/feedback", component: () => import("./pages/Feedback.vue"), meta: { member: true } },
  { path: "/:unknown(.*)*", component: () => import("./pages/NotFound.vue") },
];

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

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes,
  scrollBehavior: () => ({ top: 0 }),
});

router.beforeEach((to) => guard(to, isLive(current.value, Date.now())));
