// The test cases of a submission's result: a badge per case, and for a failed case with a known
// expected output, the expected and actual output side by side. The result never carries the
// expected outputs (they are the submitter's, kept from the program), so the diff is shown where
// the page still has them: the playground that sent them.
import type { CaseResult, CompareMode, Job, TestCase } from "./api";
import { renderDiff } from "./diff";
import { h } from "./dom";
import { ERROR_TYPES, ms } from "./format";

export interface SentCases {
  cases: TestCase[];
  compare: CompareMode;
}

interface CaseVerdict {
  label: string;
  long: string;
  tone: "ok" | "bad" | "pending" | "warn";
  key: "passed" | "failed" | "skipped" | "ran";
}

export function caseVerdict(c: CaseResult): CaseVerdict {
  if (c.status === "skipped")
    return { label: "Skipped", long: "Skipped after an earlier failure", tone: "pending", key: "skipped" };
  const type = c.sandboxErrorType;
  const typeLong = type ? (ERROR_TYPES[type] ?? type) : "";
  if (c.passed === true) return { label: "Passed", long: "Passed", tone: "ok", key: "passed" };
  if (c.passed === false || c.status === "failed") {
    return { label: "Failed", long: typeLong || "Failed", tone: "bad", key: "failed" };
  }
  // No expected output: the case ran, and its exit is all there is to judge.
  return { label: "Ran", long: "Ran (no expected output)", tone: "ok", key: "ran" };
}

/** "7/8 passed" for a submission with cases, or null for a plain run. */
export function casesSummary(job: Pick<Job, "testCases" | "testCasesPassed" | "testCasesTotal">): string | null {
  const total = job.testCasesTotal ?? job.testCases?.length;
  if (!total) return null;
  const passed =
    job.testCasesPassed ??
    (job.testCases ?? []).filter((c) => c.passed === true || (c.passed === null && c.status === "success")).length;
  return `${passed}/${total} passed`;
}

function caseOutput(label: string, text: string, truncated: boolean, kind: "stdout" | "stderr"): HTMLElement {
  return h(
    "div",
    { class: `output output-${kind}` },
    h("p", { class: "output-label" }, label),
    text
      ? h("pre", { tabindex: 0, class: "output-text", "data-testid": `case-${kind}`, "aria-label": label }, text)
      : h("p", { class: "muted output-empty" }, "(empty)"),
    truncated ? h("p", { class: "hint" }, "Truncated: the program wrote more than is kept.") : null,
  );
}

function renderCase(c: CaseResult, sent: SentCases | undefined): HTMLElement {
  const v = caseVerdict(c);
  const number = c.index + 1;
  const expected = sent?.cases[c.index]?.expectedOutput;
  const facts = [
    c.executionTimeMs !== null ? ms(c.executionTimeMs) : null,
    c.memoryKb !== null ? `${c.memoryKb} KB` : null,
    c.exitCode !== null ? `exit code ${c.exitCode}` : null,
  ].filter((f): f is string => f !== null);
  const item = h(
    "li",
    { class: "case-result", "data-index": c.index, "data-verdict": v.key },
    h(
      "div",
      { class: "case-head" },
      h("span", { class: "case-name" }, `Case ${number}`),
      h("span", { class: `badge badge-${v.tone}`, title: v.long, "data-testid": "case-badge" }, v.label),
      v.long !== v.label ? h("span", { class: "verdict-long", "data-testid": "case-verdict" }, v.long) : null,
      facts.length && c.status !== "skipped" ? h("span", { class: "muted case-facts" }, facts.join(" · ")) : null,
    ),
  );
  if (c.status === "skipped") return item;
  if (c.sandboxErrorMessage && v.key === "failed") {
    item.append(h("p", { class: "job-error case-error", "data-testid": "case-error" }, c.sandboxErrorMessage));
  }
  const showDiff = c.passed === false && typeof expected === "string";
  if (showDiff) {
    item.append(renderDiff(expected, c.stdout ?? "", sent?.compare ?? "trimmed", `Case ${number}: expected and actual output`));
  }
  // The raw output stays one click away; open by itself when it is all there is to see.
  const details = h(
    "details",
    { class: "case-output" },
    h("summary", {}, showDiff ? "Raw output" : "Output"),
    caseOutput("Output (stdout)", c.stdout ?? "", c.stdoutTruncated, "stdout"),
    c.stderr ? caseOutput("Errors (stderr)", c.stderr, c.stderrTruncated, "stderr") : null,
  );
  if (!showDiff && v.key === "failed") details.open = true;
  item.append(details);
  return item;
}

export function renderCases(job: Job, sent?: SentCases): HTMLElement | null {
  if (!job.testCases?.length) return null;
  const summary = casesSummary(job);
  const headingId = `cases-${job.jobId}`;
  return h(
    "section",
    { class: "case-results", "aria-labelledby": headingId },
    h(
      "h3",
      { id: headingId, class: "case-results-title" },
      "Test cases ",
      summary ? h("span", { class: "muted", "data-testid": "cases-summary" }, summary) : null,
    ),
    h("ol", { class: "case-list" }, ...[...job.testCases].sort((a, b) => a.index - b.index).map((c) => renderCase(c, sent))),
  );
}
