// How a job's outcome and timings read on the pages. The verdict comes from the API's status and
// sandboxErrorType; the pages never guess a verdict the API did not give.
import type { Job } from "./api";
import { h } from "./dom";

export const ERROR_TYPES: Record<string, string> = {
  TLE: "Time Limit Exceeded",
  MLE: "Memory Limit Exceeded",
  CompilationError: "Compilation Error",
  WrongAnswer: "Wrong Answer",
  RuntimeError: "Runtime Error",
  SandboxError: "Sandbox Error",
  InternalError: "Internal Error",
};

export interface Verdict {
  /** short label shown in badges and tables: "Success", "TLE", "Running"... */
  short: string;
  /** the long form for screen readers and the detail view */
  long: string;
  tone: "ok" | "bad" | "pending" | "warn";
}

export function verdictOf(job: Pick<Job, "status" | "sandboxErrorType">): Verdict {
  switch (job.status) {
    case "queued":
      return { short: "Queued", long: "Queued", tone: "pending" };
    case "running":
      return { short: "Running", long: "Running", tone: "pending" };
    case "success":
      return { short: "Success", long: "Success", tone: "ok" };
    default: {
      const type = job.sandboxErrorType;
      if (type) {
        const long = ERROR_TYPES[type] ?? type;
        const tone = type === "SandboxError" || type === "InternalError" ? "warn" : "bad";
        return { short: type, long, tone };
      }
      return { short: "Failed", long: "Failed", tone: "bad" };
    }
  }
}

export function verdictBadge(job: Pick<Job, "status" | "sandboxErrorType">): HTMLElement {
  const v = verdictOf(job);
  return h(
    "span",
    { class: `badge badge-${v.tone}`, title: v.long, "data-verdict": v.short },
    v.short,
  );
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  return `${Math.round(value)} ms`;
}

export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return "–";
  const pct = rate * 100; // the API gives a 0..1 fraction
  return `${pct.toFixed(pct >= 99.95 || pct === 0 ? 0 : 1)}%`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}
