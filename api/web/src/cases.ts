// The playground's "Test cases" panel: cases to add and remove (an input, and an optional
// expected output), the compare mode, float tolerances and stop-on-first-failure. With no cases
// the playground submits a plain run, exactly the v1 API's body (docs/api.md).
import type { CompareMode, JudgeOptions } from "./api";
import { byId, h } from "./dom";

/** The API's cap on cases per submission (docs/api.md). */
export const MAX_CASES = 64;

export interface CasesPanel {
  /** The judge fields for a submission, or null when there are no cases. */
  options(): JudgeOptions | { error: string } | null;
  count(): number;
}

let caseSeq = 0;

export function initCasesPanel(onChange: (count: number) => void): CasesPanel {
  const list = byId<HTMLOListElement>("case-list");
  const add = byId<HTMLButtonElement>("add-case");
  const settings = byId("case-settings");
  const compare = byId<HTMLSelectElement>("compare");
  const tolerance = byId("tolerance");
  const absolute = byId<HTMLInputElement>("tolerance-absolute");
  const relative = byId<HTMLInputElement>("tolerance-relative");
  const stopFirst = byId<HTMLInputElement>("stop-first");
  const count = byId("case-count");

  const items = () => Array.from(list.querySelectorAll<HTMLLIElement>("li.case-editor"));

  // Numbers, labels and the count follow the list, so "Case 3" is always the third.
  const renumber = () => {
    const all = items();
    all.forEach((li, i) => {
      const n = String(i + 1);
      li.dataset.case = n;
      for (const el of li.querySelectorAll<HTMLElement>("[data-n]")) el.textContent = n;
      li.querySelector("button.remove-case")?.setAttribute("aria-label", `Remove case ${n}`);
    });
    settings.hidden = all.length === 0;
    add.disabled = all.length >= MAX_CASES;
    count.textContent = all.length
      ? `${all.length} case${all.length === 1 ? "" : "s"}${all.length >= MAX_CASES ? ` (the most a run takes)` : ""}`
      : "No cases: the program runs once, on the input above.";
    onChange(all.length);
  };

  const addCase = (focus: boolean) => {
    const id = `case-${++caseSeq}`;
    const remove = h("button", { type: "button", class: "btn btn-ghost remove-case" }, "Remove");
    const input = h("textarea", { id: `${id}-input`, class: "case-input", rows: 3, spellcheck: "false" });
    const expected = h("textarea", {
      id: `${id}-expected`,
      class: "case-expected",
      rows: 3,
      spellcheck: "false",
      placeholder: "Leave empty to just run this input",
    });
    const li = h(
      "li",
      { class: "case-editor" },
      h(
        "div",
        { class: "case-editor-head" },
        h("h3", { class: "case-editor-title" }, "Case ", h("span", { "data-n": "" })),
        remove,
      ),
      h(
        "div",
        { class: "case-fields" },
        h(
          "div",
          { class: "field" },
          h("label", { for: input.id }, "Input", h("span", { class: "sr-only" }, " of case ", h("span", { "data-n": "" }))),
          input,
        ),
        h(
          "div",
          { class: "field" },
          h(
            "label",
            { for: expected.id },
            "Expected output",
            h("span", { class: "sr-only" }, " of case ", h("span", { "data-n": "" })),
          ),
          expected,
        ),
      ),
    );
    remove.addEventListener("click", () => {
      const all = items();
      const at = all.indexOf(li);
      li.remove();
      renumber();
      // Focus stays in the list: the case that moved into this place, else the one before, else Add.
      const rest = items();
      const next = rest[at] ?? rest[at - 1];
      (next?.querySelector<HTMLElement>("button.remove-case") ?? add).focus();
    });
    list.append(li);
    renumber();
    if (focus) input.focus();
  };

  add.addEventListener("click", () => addCase(true));
  compare.addEventListener("change", () => {
    tolerance.hidden = compare.value !== "float";
  });
  renumber();

  return {
    count: () => items().length,
    options() {
      const all = items();
      if (!all.length) return null;
      const testCases = all.map((li) => {
        const input = li.querySelector<HTMLTextAreaElement>("textarea.case-input")?.value ?? "";
        const expected = li.querySelector<HTMLTextAreaElement>("textarea.case-expected")?.value ?? "";
        return { input, expectedOutput: expected === "" ? null : expected };
      });
      const mode = compare.value as CompareMode;
      const options: JudgeOptions = { testCases, compare: mode, stopOnFirstFailure: stopFirst.checked };
      // Both tolerances empty: the server's documented defaults.
      if (mode === "float" && (absolute.value.trim() || relative.value.trim())) {
        const abs = Number(absolute.value.trim());
        const rel = Number(relative.value.trim());
        if (!absolute.value.trim() || !relative.value.trim() || !(abs >= 0) || !(rel >= 0)) {
          return {
            error:
              "Give both float tolerances as numbers of 0 or more (for example 1e-6), or leave both empty for the defaults.",
          };
        }
        options.tolerance = { absolute: abs, relative: rel };
      }
      return options;
    },
  };
}
