// One job's result: verdict, timings, output. Shared by the dashboard's detail dialog and the
// playground's result panel, so both say the same thing about the same job.
import type { Job } from "./api";
import { type SentCases, renderCases } from "./caseview";
import { h } from "./dom";
import { dateTime, ms, verdictBadge, verdictOf } from "./format";
import { languageName } from "./languages";

let outputCount = 0;

function output(
  label: string,
  text: string,
  kind: "stdout" | "stderr",
  truncated: boolean,
): HTMLElement {
  const id = `out-${kind}-${++outputCount}`;
  return h(
    "div",
    { class: `output output-${kind}` },
    h("h3", { id, class: "output-label" }, label),
    text
      ? h(
          "pre",
          { tabindex: 0, "aria-labelledby": id, "data-testid": kind, class: "output-text" },
          text,
        )
      : h("p", { class: "muted output-empty", "data-testid": `${kind}-empty` }, "(empty)"),
    truncated ? h("p", { class: "hint" }, "Truncated: the program wrote more than is kept.") : null,
  );
}

const isNumber = (v: number | null | undefined): v is number => typeof v === "number";

function kb(value: number): string {
  return value >= 10_240 ? `${(value / 1024).toFixed(1)} MB` : `${value} KB`;
}

function timing(label: string, value: string, testid: string): HTMLElement {
  return h("div", { class: "timing" }, h("dt", {}, label), h("dd", { "data-testid": testid }, value));
}

export function renderJob(
  job: Job,
  options: { showMeta?: boolean; sent?: SentCases } = {},
): HTMLElement {
  const verdict = verdictOf(job);
  const root = h("div", { class: "job", "data-job-id": job.jobId, "data-status": job.status });
  root.append(
    h(
      "div",
      { class: "job-verdict" },
      verdictBadge(job),
      // The badge already says "Success" or "Running"; then the long form is for screen readers.
      h(
        "span",
        {
          class: verdict.long === verdict.short ? "verdict-long sr-only" : "verdict-long",
          "data-testid": "verdict",
        },
        verdict.long,
      ),
      job.exitCode !== null && job.exitCode !== undefined
        ? h("span", { class: "muted" }, `exit code ${job.exitCode}`)
        : null,
    ),
  );
  if (job.sandboxErrorMessage) {
    root.append(h("p", { class: "job-error", "data-testid": "error-message" }, job.sandboxErrorMessage));
  }
  root.append(
    h(
      "dl",
      { class: "timings" },
      timing("Execution", ms(job.executionTimeMs), "execution-time"),
      timing("Queue", ms(job.queueTimeMs), "queue-time"),
      timing("Total", ms(job.totalTimeMs), "total-time"),
      isNumber(job.compileTimeMs) ? timing("Compile", ms(job.compileTimeMs), "compile-time") : null,
      isNumber(job.cpuTimeMs) ? timing("CPU", ms(job.cpuTimeMs), "cpu-time") : null,
      isNumber(job.memoryKb) ? timing("Memory", kb(job.memoryKb), "memory") : null,
    ),
  );
  const cases = renderCases(job, options.sent);
  if (cases) root.append(cases);
  // With cases each case has its own output; the submission's own is shown when it has any
  // (a compiler's errors, for example).
  if (!cases || job.stdout) {
    root.append(output("Output (stdout)", job.stdout ?? "", "stdout", !!job.stdoutTruncated));
  }
  if (job.stderr || (verdict.tone !== "ok" && !cases)) {
    root.append(output("Errors (stderr)", job.stderr ?? "", "stderr", !!job.stderrTruncated));
  }
  if (options.showMeta) {
    root.append(
      h(
        "dl",
        { class: "meta" },
        timing("Job ID", job.jobId, "job-id"),
        timing("Language", languageName(job.language), "job-language"),
        timing("Status", job.status, "job-status"),
        timing("Queued at", dateTime(job.queuedAt), "queued-at"),
        timing("Started at", dateTime(job.startedAt), "started-at"),
        timing("Finished at", dateTime(job.finishedAt), "finished-at"),
      ),
    );
  }
  return root;
}
