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

/**
 * One frame for every page: the head, the site header and the closing tags are
 * src/partials/page.html (with src/partials/header.html in it). A page's source is its first
 * line, `<!-- page title="..." script="..." class="..." ... -->`, which fills the frame's
 * {{title}}, {{script}} and {{class}}, followed by its <main>.
 */
function sitePage(): Plugin {
  const marker = /^<!-- page ((?:\w+="[^"]*" )*\w+="[^"]*")[^>]*-->\n/;
  const partial = (name: string) => readFileSync(join(root, `src/partials/${name}.html`), "utf8");
  return {
    name: "coderun-site-page",
    transformIndexHtml: {
      order: "pre", // before Vite resolves the page's script and icon into hashed assets
      handler(html, ctx) {
        const found = marker.exec(html);
        if (!found) throw new Error(`${ctx.filename} does not start with a <!-- page ... --> line`);
        const fields = new Map([...found[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
        fields.set("header", partial("header"));
        fields.set("main", html.slice(found[0].length));
        return partial("page").replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
          const value = fields.get(key);
          if (value === undefined) throw new Error(`${ctx.filename}: its page line has no ${key}="..."`);
          return value;
        });
      },
    },
  };
}

export default defineConfig({
  root,
  base: "/",
  publicDir: false,
  plugins: [sitePage(), buildInfo()],
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
