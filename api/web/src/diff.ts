// A side-by-side, line-by-line diff of a case's expected and actual output. The verdict is the
// server's (it compares in the trusted runner); this only shows where the texts part, with lines
// compared the way the chosen mode reads them, so a line the mode ignores is not marked.
import type { CompareMode } from "./api";
import { h } from "./dom";

export interface DiffRow {
  kind: "same" | "changed" | "removed" | "added";
  expected: { no: number; text: string } | null;
  actual: { no: number; text: string } | null;
}

/** Above this many cell comparisons the lines are paired by position, not by LCS. */
const MAX_LCS_CELLS = 250_000;
/** Rows shown; the outputs are capped by the server, but a diff of thousands of lines helps no one. */
const MAX_ROWS = 400;

export function linesOf(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((line) => line.replace(/\r$/, ""));
}

function keyOf(line: string, mode: CompareMode): string {
  if (mode === "exact") return line;
  if (mode === "trimmed") return line.replace(/\s+$/, "");
  return line.trim().split(/\s+/).join(" ");
}

/** Aligns the two texts' lines (longest common subsequence) into side-by-side rows. */
export function diffLines(expected: string, actual: string, mode: CompareMode): DiffRow[] {
  let left = linesOf(expected);
  let right = linesOf(actual);
  if (mode !== "exact") {
    // Trailing blank lines are ignored by every mode but exact.
    while (left.length && keyOf(left[left.length - 1], mode) === "") left = left.slice(0, -1);
    while (right.length && keyOf(right[right.length - 1], mode) === "") right = right.slice(0, -1);
  }
  const a = left.map((l) => keyOf(l, mode));
  const b = right.map((l) => keyOf(l, mode));
  const n = a.length;
  const m = b.length;
  const pairs: Array<[number | null, number | null]> = [];
  if (n * m > MAX_LCS_CELLS) {
    for (let i = 0; i < Math.max(n, m); i++) pairs.push([i < n ? i : null, i < m ? i : null]);
  } else {
    // lcs[i][j]: length of the LCS of a[i..] and b[j..], in one flat array.
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] =
          a[i] === b[j]
            ? lcs[(i + 1) * width + j + 1] + 1
            : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) pairs.push([i++, j++]);
      else if (j < m && (i === n || lcs[i * width + j + 1] >= lcs[(i + 1) * width + j]))
        pairs.push([null, j++]);
      else pairs.push([i++, null]);
    }
  }
  // Runs of removed and added lines side by side become "changed" rows.
  const rows: DiffRow[] = [];
  let k = 0;
  while (k < pairs.length) {
    const [i, j] = pairs[k];
    if (i !== null && j !== null) {
      const kind = a[i] === b[j] ? "same" : "changed";
      rows.push({ kind, expected: { no: i + 1, text: left[i] }, actual: { no: j + 1, text: right[j] } });
      k++;
      continue;
    }
    const removed: number[] = [];
    const added: number[] = [];
    while (k < pairs.length && (pairs[k][0] === null || pairs[k][1] === null)) {
      const [ri, rj] = pairs[k];
      if (ri !== null) removed.push(ri);
      if (rj !== null) added.push(rj);
      k++;
    }
    for (let x = 0; x < Math.max(removed.length, added.length); x++) {
      const ri = removed[x];
      const rj = added[x];
      rows.push({
        kind: ri !== undefined && rj !== undefined ? "changed" : ri !== undefined ? "removed" : "added",
        expected: ri !== undefined ? { no: ri + 1, text: left[ri] } : null,
        actual: rj !== undefined ? { no: rj + 1, text: right[rj] } : null,
      });
    }
  }
  return rows;
}

function cell(side: DiffRow["expected"], marked: boolean, which: "expected" | "actual"): HTMLElement[] {
  // The side a line is missing from stays blank: only lines that are there are coloured.
  const cls = marked && side ? (which === "expected" ? "diff-del" : "diff-add") : "";
  return [
    h("td", { class: `diff-no ${cls}` }, side ? String(side.no) : ""),
    h(
      "td",
      { class: `diff-text ${cls}`, "data-side": which },
      // A visible mark for an empty or whitespace-only line, which would otherwise look the same.
      side ? (side.text === "" ? h("span", { class: "diff-empty" }, "(empty line)") : side.text) : "",
    ),
  ];
}

/** The expected and actual output side by side, differing lines marked (not by colour alone). */
export function renderDiff(
  expected: string,
  actual: string,
  mode: CompareMode,
  caption: string,
): HTMLElement {
  const rows = diffLines(expected, actual, mode);
  const shown = rows.slice(0, MAX_ROWS);
  const differing = rows.filter((r) => r.kind !== "same").length;
  const body = shown.map((row) => {
    const marked = row.kind !== "same";
    return h(
      "tr",
      { "data-diff": row.kind },
      h("th", { scope: "row", class: "diff-mark" }, marked ? "≠" : "", marked ? h("span", { class: "sr-only" }, "differs") : null),
      ...cell(row.expected, marked, "expected"),
      ...cell(row.actual, marked, "actual"),
    );
  });
  const notes: HTMLElement[] = [];
  if (mode === "exact" && expected !== "" && actual !== "" && expected.endsWith("\n") !== actual.endsWith("\n")) {
    notes.push(
      h(
        "p",
        { class: "hint" },
        expected.endsWith("\n")
          ? "The expected output ends with a newline; the program's output does not."
          : "The program's output ends with a newline; the expected output does not.",
      ),
    );
  }
  if (!differing && !notes.length) {
    notes.push(h("p", { class: "hint" }, "The lines read the same; they differ in whitespace, or as numbers beyond the tolerance."));
  }
  if (rows.length > shown.length) {
    notes.push(h("p", { class: "hint" }, `${rows.length - shown.length} more lines not shown.`));
  }
  return h(
    "div",
    { class: "diff", "data-testid": "diff" },
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "diff-table" },
        h("caption", { class: "sr-only" }, caption),
        h(
          "colgroup",
          {},
          h("col", { class: "diff-col-mark" }),
          h("col", { class: "diff-col-no" }),
          h("col", { class: "diff-col-text" }),
          h("col", { class: "diff-col-no" }),
          h("col", { class: "diff-col-text" }),
        ),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Differs")),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Line")),
            h("th", { scope: "col" }, "Expected"),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Line")),
            h("th", { scope: "col" }, "Actual"),
          ),
        ),
        h("tbody", {}, ...body),
      ),
    ),
    ...notes,
  );
}
