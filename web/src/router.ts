import { createRouter, createWebHistory } from "vue-router";
import { guard } from "./lib/navigation";
import { current, isLive } from "./lib/session";
import SignIn from "./pages/SignIn.vue";

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
  { path: "/surveys/:id", component: () => import("./pages/Survey.vue"), meta: { member: true } },
  { path: "/scan", component: () => import("./pages/Scan.vue"), meta: { member: true } },
  { path: "/transfer", component: () => import("./pages/Transfer.vue"), meta: { member: true } },
  { path: "/:unknown(.*)*", component: () => import("./pages/NotFound.vue") },
];

export const router = createRouter({
  history: createWebHistory(import.meta.env.BASE_URL),
  routes,
  scrollBehavior: () => ({ top: 0 }),
});

router.beforeEach((to) => guard(to, isLive(current.value, Date.now())));
