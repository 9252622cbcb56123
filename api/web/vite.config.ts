// Multi-page build: each page is an HTML entry; everything it needs (scripts, styles, the editor,
// the icon) is bundled into ../coderun_api/static/assets so the API serves it with no CDN.
import { resolve } from "node:path";
import { defineConfig } from "vite";

const pages = ["index", "signin", "signup", "dashboard", "playground"];

export default defineConfig({
  base: "/",
  publicDir: false,
  build: {
    outDir: resolve(import.meta.dirname, "../coderun_api/static"),
    emptyOutDir: true,
    assetsDir: "assets",
    // Inline nothing: data: URLs for assets would need a looser Content-Security-Policy.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    sourcemap: false,
    // CodeMirror's core is one chunk of about 420 kB (140 kB gzipped); the grammars load lazily.
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      input: Object.fromEntries(pages.map((p) => [p, resolve(import.meta.dirname, `${p}.html`)])),
    },
  },
});
