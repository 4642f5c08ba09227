/// <reference types="vitest/config" />
import vue from "@vitejs/plugin-vue";
import { VantResolver } from "@vant/auto-import-resolver";
import Components from "unplugin-vue-components/vite";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

// Vant's components import its icon font's stylesheet; the app uses no Vant icon, so that import
// resolves to an empty stylesheet: no 40 KB font in the CSS, and no CDN named anywhere in the build.
const withoutVantIconFont: Plugin = {
  name: "huiyuan-without-vant-icon-font",
  enforce: "pre",
  resolveId(source, importer) {
    if (importer?.includes("/vant/es/") && /\/icon\/index\.css$/.test(source)) {
      return fileURLToPath(new URL("./src/no-icon-font.css", import.meta.url));
    }
    return null;
  },
};

// Served under /app/ by the local stack (localstage/webapp.py) and by CloudFront (infra/web.py),
// same origin as the API (/v1/...). Everything comes from node_modules at build time: no CDN at run time.
export default defineConfig({
  base: "/app/",
  plugins: [
    withoutVantIconFont,
    vue(),
    // Imports only the Vant components a template uses, with their own CSS (Vant's documented setup).
    Components({ dts: false, resolvers: [VantResolver()] }),
  ],
  build: {
    outDir: "dist",
    // dist/.vite/manifest.json: which chunks the first load of Home needs (`make bench`, tests/bench/webapp.py).
    manifest: true,
    emptyOutDir: true,
    target: "es2020",
    // One report line per chunk; the budget is checked by `make bench` (tests/bench/webapp.py).
    reportCompressedSize: false,
    rolldownOptions: {
      // The timing report of slow plugins is noise on a busy two-core machine.
      checks: { bundlerTimings: false },
      output: {
        // Named vendor chunks: stable across app changes (cached), and readable in the size report.
        manualChunks(id: string) {
          if (id.includes("/node_modules/vant/") || id.includes("/node_modules/@vant/")) return "vant";
          if (id.includes("/node_modules/@vue/") || id.includes("/node_modules/vue/") || id.includes("/node_modules/vue-router/")) return "vue";
          return undefined;
        },
      },
    },
    chunkSizeWarningLimit: 300,
  },
  server: {
    // `npm run dev` against `make run` on :8000.
    proxy: { "/v1": "http://127.0.0.1:8000" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
