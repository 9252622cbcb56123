// A job followed over its event stream (GET /api/v1/runner/{jobId}/events, Server-Sent Events)
// instead of polling its result. EventSource cannot send headers, so the stream authenticates by
// the session cookie, which a same-origin EventSource sends; a GET needs no CSRF header.
import { type Job, type JobStatus, waitForResult } from "./api";

export type JobUpdate = Pick<Job, "jobId" | "status">;

/** How long the stream may take to open before the page polls instead (a proxy that buffers). */
const OPEN_TIMEOUT_MS = 10_000;
/** Times a dropped stream is reopened (by EventSource itself, with Last-Event-ID) before polling. */
const MAX_REOPENS = 2;

/** The `result` event carries the result route's envelope; take its data (or a bare result). */
function resultOf(raw: string): Job | null {
  const parsed: unknown = JSON.parse(raw);
  if (!parsed || typeof parsed !== "object") return null;
  const record = parsed as Record<string, unknown>;
  const job = "data" in record && "success" in record ? record.data : record;
  if (!job || typeof job !== "object" || typeof (job as Job).jobId !== "string") return null;
  return job as Job;
}

const isFinal = (status: JobStatus) => status !== "queued" && status !== "running";

/**
 * Resolves with the job's final result, read from its event stream. `onUpdate` hears each
 * state change (queued, running) and then the final result. If the stream fails before the
 * result arrives (a server without the route, a dropped connection, bad data) the page falls
 * back to the result route's long poll, so a run always ends with its verdict.
 */
export function followJob(
  jobId: string,
  onUpdate: (update: JobUpdate | Job) => void,
  signal?: AbortSignal,
): Promise<Job> {
  if (typeof EventSource === "undefined") return waitForResult(jobId, onUpdate, signal);
  return new Promise<Job>((resolve, reject) => {
    const source = new EventSource(`/api/v1/runner/${encodeURIComponent(jobId)}/events`);
    let done = false;
    let reopens = 0;
    let openTimer = window.setTimeout(() => fallBack(), OPEN_TIMEOUT_MS);

    const stop = () => {
      done = true;
      window.clearTimeout(openTimer);
      source.close();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      if (done) return;
      stop();
      reject(new DOMException("The run was abandoned", "AbortError"));
    };
    function fallBack(): void {
      if (done) return;
      stop();
      document.body.dataset.resultVia = "polling";
      waitForResult(jobId, onUpdate, signal).then(resolve, reject);
    }

    signal?.addEventListener("abort", onAbort);
    source.addEventListener("open", () => window.clearTimeout(openTimer));
    source.addEventListener("status", (event) => {
      if (done) return;
      try {
        const update = JSON.parse((event as MessageEvent<string>).data) as Partial<JobUpdate>;
        if (typeof update.status === "string" && !isFinal(update.status)) {
          onUpdate({ jobId, status: update.status });
        }
      } catch {
        fallBack();
      }
    });
    source.addEventListener("result", (event) => {
      if (done) return;
      let job: Job | null;
      try {
        job = resultOf((event as MessageEvent<string>).data);
      } catch {
        job = null;
      }
      if (!job || !isFinal(job.status)) {
        fallBack();
        return;
      }
      stop();
      document.body.dataset.resultVia = "stream";
      onUpdate(job);
      resolve(job);
    });
    // A dropped connection (readyState CONNECTING): EventSource reopens it and resumes after
    // the last event id, a few times. An answer that is not a stream (4xx, 5xx, another
    // type; readyState CLOSED), or drops past that: poll the result instead.
    source.addEventListener("error", () => {
      if (done) return;
      if (source.readyState === EventSource.CONNECTING && reopens < MAX_REOPENS) {
        reopens++;
        window.clearTimeout(openTimer);
        openTimer = window.setTimeout(() => fallBack(), OPEN_TIMEOUT_MS);
        return;
      }
      fallBack();
    });
  });
}
