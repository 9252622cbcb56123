/**
 * `CodeRunClient`: the CodeRun API over fetch. No runtime dependencies; Node 20 and browsers.
 *
 * In Node, give `baseUrl` and `apiKey`. In a browser page on the API's own origin, leave
 * `baseUrl` out (requests go to the page's origin) and `apiKey` too to act as the signed-in
 * dashboard user: the session cookie goes along, with the `X-Requested-With` header the
 * API asks of cookie-authenticated POSTs.
 */
import { ApiError, TransportError, WaitTimeoutError } from "./errors.js";
import {
  isFinal,
  type Account,
  type BatchEntry,
  type Delivery,
  type Envelope,
  type ErrorInfo,
  type Job,
  type Language,
  type SubmitOptions,
  type SubmitRequest,
  type Submission,
  type WebhookSecret,
  type WebhookSecretStatus,
} from "./models.js";
import { errorClass } from "./statuses.js";
import { parseRetryAfter } from "./statusTypes.js";

export const VERSION = "0.1.0";
/** The server caps ?wait at 30 s (docs/api.md). */
export const MAX_WAIT_SECONDS = 30;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RUN_TIMEOUT_MS = 300_000;
/** A server without ?wait answers at once; docs/api.md advises polling about once a second. */
const MIN_POLL_INTERVAL_MS = 1_000;
/** 429: rate limit; 503: Redis or the database down. Both answer before anything is saved. */
const RETRY_STATUSES = new Set([429, 503]);
const CSRF_HEADER = { "X-Requested-With": "coderun-web" };

/** Retries of 429/503 honour Retry-After; without one, exponential backoff. */
export interface RetryPolicy {
  maxRetries: number;
  /** A Retry-After beyond this is thrown as RateLimitError, not slept through. */
  maxDelayMs: number;
  backoffMs: number;
}

export interface ClientOptions {
  /** e.g. "https://coderun.example.com"; default: the page's own origin (browsers). */
  baseUrl?: string;
  /** nr_live_...; leave out in a same-origin browser page to use the session cookie. */
  apiKey?: string;
  /** Per request, on top of a long-poll's own wait. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

export interface RunOptions extends SubmitOptions {
  idempotencyKey?: string;
  /** How long run/wait waits for the final result (default 300 s; null: no limit). */
  timeoutMs?: number | null;
}

interface Operation<T> {
  method: "GET" | "POST";
  path: string;
  parse: (data: unknown) => T;
  params?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
  /** May a transport failure be retried? A GET, or a POST with an Idempotency-Key. */
  repeatable: boolean;
  extraReadMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

function pathId(jobId: string): string {
  if (!jobId) throw new TypeError("jobId is empty");
  return encodeURIComponent(jobId);
}

function field<T>(data: unknown, name: string): T {
  return (data as Record<string, unknown>)[name] as T;
}

export class CodeRunClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    if (!this.baseUrl && typeof location === "undefined") {
      throw new TypeError("baseUrl is required outside a browser page");
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retry = { maxRetries: 3, maxDelayMs: 60_000, backoffMs: 500, ...options.retry };
    this.#headers = { Accept: "application/json" };
    if (options.apiKey) this.#headers["X-API-KEY"] = options.apiKey;
    else Object.assign(this.#headers, CSRF_HEADER);
    Object.assign(this.#headers, options.headers);
    // fetch called unbound throws "Illegal invocation" in browsers.
    const chosen = options.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => chosen(input, init);
  }

  // -- runner ------------------------------------------------------------------------------

  /**
   * Queue a program; resolves to its job id at once. Every call carries an Idempotency-Key
   * (a new UUID unless given), so a retry never queues it twice.
   */
  submit(
    code: string,
    language: string,
    input = "",
    options: SubmitOptions & { idempotencyKey?: string } = {},
  ): Promise<Submission> {
    const { idempotencyKey, ...rest } = options;
    const body: SubmitRequest = { ...dropUndefined(rest), code, language, input };
    return this.#send({
      method: "POST",
      path: "/api/v1/runner/submit",
      parse: (data) => data as Submission,
      body,
      headers: { "Idempotency-Key": idempotencyKey ?? crypto.randomUUID() },
      repeatable: true,
    });
  }

  /** The job's current state; with `wait` (seconds, at most 30) the server answers as soon as it is final. */
  result(jobId: string, options: { wait?: number } = {}): Promise<Job> {
    const wait = Math.max(0, Math.min(options.wait ?? 0, MAX_WAIT_SECONDS));
    return this.#send({
      method: "GET",
      path: `/api/v1/runner/${pathId(jobId)}/result`,
      parse: (data) => data as Job,
      params: wait > 0 ? { wait: String(Math.round(wait * 1000) / 1000) } : {},
      repeatable: true,
      extraReadMs: wait * 1000,
    });
  }

  /** Long-poll until the job is final; WaitTimeoutError after `timeoutMs` (null: no limit). */
  async wait(jobId: string, options: { timeoutMs?: number | null } = {}): Promise<Job> {
    const timeoutMs = options.timeoutMs === undefined ? DEFAULT_RUN_TIMEOUT_MS : options.timeoutMs;
    const started = Date.now();
    for (;;) {
      const asked = Date.now();
      let wait = MAX_WAIT_SECONDS;
      if (timeoutMs !== null) wait = Math.min(wait, Math.max(0, (started + timeoutMs - asked) / 1000));
      const job = await this.result(jobId, { wait });
      if (isFinal(job)) return job;
      const now = Date.now();
      if (timeoutMs !== null && now - started >= timeoutMs) throw new WaitTimeoutError(job, now - started);
      if (now - asked < MIN_POLL_INTERVAL_MS) await sleep(MIN_POLL_INTERVAL_MS - (now - asked));
    }
  }

  /** Submit and resolve once the result is final. Failures (TLE, ...) are verdicts, not errors. */
  async run(code: string, language: string, input = "", options: RunOptions = {}): Promise<Job> {
    const { timeoutMs, ...submitOptions } = options;
    const submission = await this.submit(code, language, input, submitOptions);
    return this.wait(submission.jobId, { timeoutMs });
  }

  // -- batches and test cases -------------------------------------------------------------

  /** Queue several programs at once: one entry per request, in order, a job id or the error that refused it. */
  submitBatch(requests: SubmitRequest[], options: { idempotencyKey?: string } = {}): Promise<BatchEntry[]> {
    return this.#send({
      method: "POST",
      path: "/api/v1/runner/submissions/batch",
      parse: (data) => field<BatchEntry[]>(data, "submissions"),
      body: { submissions: requests.map((request) => dropUndefined(request)) },
      headers: { "Idempotency-Key": options.idempotencyKey ?? crypto.randomUUID() },
      repeatable: true,
    });
  }

  /** The current state of several jobs, in the order asked; an ErrorInfo in place of a jobId the account does not have. */
  batchResults(jobIds: string[]): Promise<Array<Job | ErrorInfo>> {
    if (jobIds.length === 0) throw new TypeError("jobIds is empty");
    return this.#send({
      method: "GET",
      path: "/api/v1/runner/submissions/batch",
      // An unknown (or another account's) jobId answers {jobId, error} in its place.
      parse: (data) =>
        field<Array<Job | { error: ErrorInfo }>>(data, "submissions").map((item) =>
          "error" in item ? item.error : item,
        ),
      params: { jobIds: jobIds.join(",") },
      repeatable: true,
    });
  }

  /** Submit a batch and wait for all of it: each accepted item's final Job, each refused one's ErrorInfo. */
  async runBatch(
    requests: SubmitRequest[],
    options: { timeoutMs?: number | null } = {},
  ): Promise<Array<Job | ErrorInfo>> {
    const timeoutMs = options.timeoutMs === undefined ? DEFAULT_RUN_TIMEOUT_MS : options.timeoutMs;
    const started = Date.now();
    const results: Array<Job | ErrorInfo> = [];
    for (const entry of await this.submitBatch(requests)) {
      if (!entry.jobId) {
        results.push(entry.error ?? { type: "unknown", message: "refused without a reason" });
        continue;
      }
      const left = timeoutMs === null ? null : Math.max(0, timeoutMs - (Date.now() - started));
      results.push(await this.wait(entry.jobId, { timeoutMs: left }));
    }
    return results;
  }

  // -- webhooks ----------------------------------------------------------------------------

  /** The webhook delivery log of a job submitted with a callbackUrl. */
  deliveries(jobId: string): Promise<Delivery[]> {
    return this.#get(`/api/v1/runner/${pathId(jobId)}/deliveries`, (data) => field<Delivery[]>(data, "deliveries"));
  }

  /** Create or rotate the account's webhook secret, shown only in this answer. */
  rotateWebhookSecret(): Promise<WebhookSecret> {
    // Not repeatable: a second rotation would retire the secret the first one made.
    return this.#send({
      method: "POST",
      path: "/api/v1/account/webhook-secret",
      parse: (data) => data as WebhookSecret,
      repeatable: false,
    });
  }

  webhookSecretStatus(): Promise<WebhookSecretStatus> {
    return this.#get("/api/v1/account/webhook-secret", (data) => data as WebhookSecretStatus);
  }

  // -- account -----------------------------------------------------------------------------

  account(): Promise<Account> {
    return this.#get("/api/v1/account", (data) => data as Account);
  }

  languages(): Promise<Language[]> {
    return this.#get("/api/v1/languages", (data) => data as Language[]);
  }

  // -- plumbing ----------------------------------------------------------------------------

  /** A plain GET: safe to repeat, so a failed connection is retried. */
  #get<T>(path: string, parse: (data: unknown) => T): Promise<T> {
    return this.#send({ method: "GET", path, parse, repeatable: true });
  }

  async #send<T>(operation: Operation<T>): Promise<T> {
    const query = new URLSearchParams(operation.params ?? {}).toString();
    const url = `${this.baseUrl}${operation.path}${query ? `?${query}` : ""}`;
    const headers: Record<string, string> = { ...this.#headers, ...operation.headers };
    if (operation.body !== undefined) headers["Content-Type"] = "application/json";
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.#fetch(url, {
          method: operation.method,
          headers,
          body: operation.body === undefined ? undefined : JSON.stringify(operation.body),
          credentials: "same-origin",
          signal: AbortSignal.timeout(this.timeoutMs + (operation.extraReadMs ?? 0)),
        });
      } catch (error) {
        const delay = operation.repeatable ? this.#delay(attempt, null) : null;
        if (delay === null) {
          // Node's fetch throws "fetch failed" with the socket's error (ECONNREFUSED...) as cause.
          const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
          const reason = String(cause);
          throw new TransportError(
            `cannot reach ${this.baseUrl || "the page's origin"} (${operation.method} ${operation.path}): ${reason}`,
            { cause: error },
          );
        }
        await sleep(delay);
        continue;
      }
      if (!response.ok) {
        const delay = this.#delay(attempt, response);
        if (delay !== null) {
          await response.body?.cancel();
          await sleep(delay);
          continue;
        }
      }
      return operation.parse(await decode(response));
    }
  }

  /** Milliseconds to sleep before retry number `attempt` (1-based); null: give up. */
  #delay(attempt: number, response: Response | null): number | null {
    if (attempt > this.retry.maxRetries) return null;
    let wait = this.retry.backoffMs * 2 ** (attempt - 1);
    if (response !== null) {
      if (!RETRY_STATUSES.has(response.status)) return null;
      const after = parseRetryAfter(response.headers.get("retry-after"));
      if (after !== null) wait = after * 1000;
    }
    return wait <= this.retry.maxDelayMs ? wait : null;
  }
}

/** The envelope's `data`, or the typed error carrying the envelope's message. */
async function decode(response: Response): Promise<unknown> {
  const text = await response.text();
  let envelope: Envelope<unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      envelope = parsed as Envelope<unknown>;
    }
  } catch {
    envelope = null;
  }
  if (envelope === null) {
    const snippet = text.slice(0, 200).trim() || response.statusText;
    if (response.ok) throw new ApiError(response.status, `the server's answer is not JSON: ${snippet}`);
    throw new (errorClass(response.status))(response.status, snippet, { headers: response.headers });
  }
  if (response.ok && envelope.success !== false) return envelope.data;
  const Kind = errorClass(response.status);
  throw new Kind(response.status, String(envelope.message || response.statusText), {
    type: typeof envelope.type === "string" ? envelope.type : undefined,
    envelope: envelope as unknown as Record<string, unknown>,
    headers: response.headers,
  });
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
