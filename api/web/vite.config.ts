// Multi-page build: each page is an HTML entry; everything it needs (scripts, styles, the editor,
// the icon) is bundled into ../coderun_api/static/assets so the API serves it with no CDN.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { type Plugin, defineConfig } from "vite";

const root = import.meta.dirname;
const pages = ["index", "signin", "signup", "dashboard", "playground"];

/** Every file the build reads from this directory, sorted, as paths relative to it. */
function sourceFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
    );
  const top = readdirSync(root).filter(
    (f) => f.endsWith(".html") || ["package.json", "package-lock.json", "tsconfig.json", "vite.config.ts"].includes(f),
  );
  return [...top.map((f) => join(root, f)), ...walk(join(root, "src"))]
    .map((f) => relative(root, f).split(sep).join("/"))
    .sort();
}

/**
 * Writes build-info.json beside the pages: a hash of the sources they were built from.
 * tests/web/test_build.py recomputes it, so a source change committed without a rebuild fails.
 */
function buildInfo(): Plugin {
  return {
    name: "coderun-build-info",
    generateBundle() {
      const files = sourceFiles();
      const digest = createHash("sha256");
      for (const file of files) {
        const contentHash = createHash("sha256").update(readFileSync(join(root, file))).digest("hex");
        digest.update(`${file}\n${contentHash}\n`);
      }
      const info = { sourceHash: digest.digest("hex"), files };
      this.emitFile({ type: "asset", fileName: "build-info.json", source: `${JSON.stringify(info, null, 2)}\n` });
    },
  };
}

/** One header for every page: each page marks its place and the build puts it in. */
function siteHeader(): Plugin {
  const marker = /^\s*<!-- site-header:[^>]*-->\n/m;
  return {
    name: "coderun-site-header",
    transformIndexHtml: {
      order: "pre", // before Vite resolves the header's icon into a hashed asset
      handler(html, ctx) {
        if (!marker.test(html)) throw new Error(`${ctx.filename} has no site-header marker`);
        return html.replace(marker, readFileSync(join(root, "src/partials/header.html"), "utf8"));
      },
    },
  };
}

export default defineConfig({
  root,
  base: "/",
  publicDir: false,
  plugins: [siteHeader(), buildInfo()],
  build: {
    outDir: resolve(root, "../coderun_api/static"),
    emptyOutDir: true,
    assetsDir: "assets",
    // Inline nothing: data: URLs for assets would need a looser Content-Security-Policy.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    sourcemap: false,
    // CodeMirror's core is one chunk of about 400 kB (130 kB gzipped); the grammars load lazily.
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      input: Object.fromEntries(pages.map((p) => [p, resolve(root, `${p}.html`)])),
    },
  },
});
