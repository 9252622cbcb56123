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

const partial = (name: string) => readFileSync(join(root, `src/partials/${name}.html`), "utf8");

/** `key="value"` and bare `key` words (a boolean attribute), in the order written. */
function parameters(text: string): Map<string, string | undefined> {
  return new Map([...text.matchAll(/([\w-]+)(?:="([^"]*)")?/g)].map((m) => [m[1], m[2]]));
}

const includeLine = /^([ \t]*)<!-- include ([\w-]+)((?: [\w-]+(?:="[^"]*")?)*) -->$/;
const endLine = /^[ \t]*<!-- \/include -->$/;
const indentOf = (line: string) => line.slice(0, line.length - line.trimStart().length);

/**
 * src/partials/NAME.html as an include fills it: each {{key}} from the include's parameters;
 * the parameters no placeholder names, as attributes in the order written, into {{attributes}}
 * (an error where the partial has none, so that a misspelt key does not pass unnoticed); the
 * body's lines in place of a {{content}} line, re-indented to it (none for no body).
 */
function fillPartial(name: string, params: Map<string, string | undefined>, body: string[], where: string): string[] {
  const source = partial(name).replace(/\n$/, "");
  const named = new Set([...source.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]));
  const rest = [...params].filter(([key]) => !named.has(key));
  if (rest.length && !named.has("attributes")) {
    throw new Error(`${where}: src/partials/${name}.html has no {{${rest[0][0]}}} (nor {{attributes}})`);
  }
  const attributes = rest.map(([key, value]) => (value === undefined ? ` ${key}` : ` ${key}="${value}"`)).join("");
  const bodyIndent = Math.min(...body.filter((l) => l.trim()).map((l) => indentOf(l).length));
  return source.split("\n").flatMap((line) => {
    if (line.trim() === "{{content}}") return body.map((l) => (l.trim() ? indentOf(line) + l.slice(bodyIndent) : ""));
    return [
      line.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
        if (key === "attributes") return attributes;
        const value = params.get(key);
        if (value === undefined) throw new Error(`${where}: no ${key}="..."`);
        return value;
      }),
    ];
  });
}

/**
 * A page's includes. A line `<!-- include NAME key="value" flag ... -->` stands for
 * src/partials/NAME.html (fillPartial), indented as that line is. The lines up to a
 * `<!-- /include -->`, where one comes before the next include, are the include's body.
 */
function expandIncludes(html: string, file: string): string {
  const lines = html.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const found = includeLine.exec(lines[i]);
    if (!found) {
      if (endLine.test(lines[i])) throw new Error(`${file}: a <!-- /include --> with no include before it`);
      out.push(lines[i]);
      continue;
    }
    const [, indent, name, text] = found;
    const next = lines.findIndex((line, j) => j > i && (includeLine.test(line) || endLine.test(line)));
    let body: string[] = [];
    if (next > 0 && endLine.test(lines[next])) {
      body = lines.slice(i + 1, next);
      i = next;
    }
    const filled = fillPartial(name, parameters(text), body, `${file}: include ${name}`);
    out.push(...filled.map((line) => (line ? indent + line : "")));
  }
  return out.join("\n");
}

/**
 * One frame for every page: the head, the site header and the closing tags are
 * src/partials/page.html (with src/partials/header.html in it). A page's source is its first
 * line, `<!-- page title="..." script="..." class="..." ... -->`, which fills the frame's
 * {{title}}, {{script}} and {{class}}, followed by its <main>, in which includes are expanded
 * (expandIncludes).
 */
function sitePage(): Plugin {
  const marker = /^<!-- page ((?:\w+="[^"]*" )*\w+="[^"]*")[^>]*-->\n/;
  return {
    name: "coderun-site-page",
    transformIndexHtml: {
      order: "pre", // before Vite resolves the page's script and icon into hashed assets
      handler(html, ctx) {
        const found = marker.exec(html);
        if (!found) throw new Error(`${ctx.filename} does not start with a <!-- page ... --> line`);
        const fields = parameters(found[1]);
        fields.set("header", partial("header"));
        fields.set("main", expandIncludes(html.slice(found[0].length), ctx.filename));
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
