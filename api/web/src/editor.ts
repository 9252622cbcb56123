// The playground's code editor: CodeMirror 6, bundled, with the four languages CodeRun runs.
import { Compartment, type Extension, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";

// Each grammar is its own chunk, fetched (from this origin) when its language is first chosen,
// so the playground does not load four parsers to show one.
const LANGUAGE_SUPPORT: Record<string, () => Promise<Extension>> = {
  python: () => import("@codemirror/lang-python").then((m) => m.python()),
  javascript: () => import("@codemirror/lang-javascript").then((m) => m.javascript()),
  cpp: () => import("@codemirror/lang-cpp").then((m) => m.cpp()),
  java: () => import("@codemirror/lang-java").then((m) => m.java()),
};

export interface CodeEditor {
  getCode(): string;
  setCode(code: string): void;
  setLanguage(key: string): void;
  focus(): void;
}

export function createEditor(
  parent: HTMLElement,
  options: { code: string; language: string; onRun: () => void; describedBy: string },
): CodeEditor {
  const language = new Compartment();
  let wanted = options.language;
  const loadLanguage = (key: string) => {
    wanted = key;
    const load = LANGUAGE_SUPPORT[key];
    if (!load) {
      view.dispatch({ effects: language.reconfigure([]) });
      return;
    }
    load().then(
      (ext) => {
        // a slow grammar must not overwrite the one picked after it
        if (wanted === key) view.dispatch({ effects: language.reconfigure(ext) });
      },
      () => undefined, // plain text still edits and runs
    );
  };
  const view = new EditorView({
    parent,
    doc: options.code,
    extensions: [
      // Ctrl/Cmd+Enter runs, and must win over the editor's own "insert blank line" binding.
      Prec.highest(
        keymap.of([
          {
            key: "Mod-Enter",
            preventDefault: true,
            run: () => {
              options.onRun();
              return true;
            },
          },
        ]),
      ),
      basicSetup,
      language.of([]),
      EditorView.contentAttributes.of({
        "aria-label": "Code editor",
        "aria-describedby": options.describedBy,
      }),
      EditorView.theme({
        "&": { fontSize: "14px", minHeight: "16rem" },
        ".cm-scroller": { fontFamily: "var(--mono)" },
      }),
    ],
  });
  loadLanguage(options.language);
  return {
    getCode: () => view.state.doc.toString(),
    setCode: (code) =>
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } }),
    setLanguage: loadLanguage,
    focus: () => view.focus(),
  };
}
