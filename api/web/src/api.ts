// The one place the pages talk to the CodeRun API. Same origin only, the session cookie rides
// along, and every unsafe request carries the CSRF header the API demands of cookie sessions.

export interface Envelope<T> {
  code: number;
  success: boolean;
  message: string;
  data: T;
}

export interface Account {
  email: string;
  credits: number;
  creditsUsed: number;
  early: boolean;
  hasApiKey: boolean;
  apiKeyPrefix: string | null;
  createdAt: string;
}

export type JobStatus = "queued" | "running" | "success" | "failed";

export interface Job {
  jobId: string;
  status: JobStatus;
  language: string;
  stdout: string;
  stderr: string;
  executionTimeMs: number | null;
  queueTimeMs: number | null;
  totalTimeMs: number | null;
  exitCode: number | null;
  sandboxErrorType: string | null;
  sandboxErrorMessage: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  // Extras beyond the v1 API's result object (docs/api.md); absent from older servers.
  cpuTimeMs?: number | null;
  memoryKb?: number | null;
  compileTimeMs?: number | null;
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  // Judge mode: one verdict per test case; null or absent for a plain run.
  testCases?: CaseResult[] | null;
  testCasesPassed?: number | null;
  testCasesTotal?: number | null;
}

/** One test case as the playground sends it; no expected output means "just run it". */
export interface TestCase {
  input: string;
  expectedOutput: string | null;
}

export type CompareMode = "exact" | "trimmed" | "tokens" | "float";

export interface JudgeOptions {
  testCases: TestCase[];
  compare: CompareMode;
  tolerance?: { absolute: number; relative: number };
  stopOnFirstFailure: boolean;
}

/** One case of a submission with test cases, as the result gives it. */
export interface CaseResult {
  index: number;
  status: "success" | "failed" | "skipped";
  sandboxErrorType: string | null;
  sandboxErrorMessage?: string;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  exitCode: number | null;
  executionTimeMs: number | null;
  cpuTimeMs: number | null;
  memoryKb: number | null;
  /** null when the case had no expected output */
  passed: boolean | null;
}

export interface WebhookSecretState {
  configured: boolean;
  createdAt: string | null;
  previousValidUntil: string | null;
}

export interface NewWebhookSecret {
  secret: string;
  createdAt: string;
  previousValidUntil: string | null;
}

export interface DeliveryAttempt {
  attempt: number;
  attemptedAt: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number | null;
}

export interface Delivery {
  deliveryId: string;
  url: string;
  state: "pending" | "delivered" | "failed";
  attempts: DeliveryAttempt[];
  nextAttemptAt: string | null;
}

export interface JobPage {
  items: Job[];
  page: number;
  pageSize: number;
  total: number;
}

export interface StatsBucket {
  bucketStart: string;
  count: number;
  successCount: number;
  successRate: number | null;
  meanExecutionTimeMs: number | null;
}

export interface Stats {
  count: number;
  successRate: number | null;
  meanExecutionTimeMs: number | null;
  p95ExecutionTimeMs: number | null;
  creditsUsed: number;
  series: StatsBucket[];
}

export interface Language {
  key: string;
  display: string;
  starter: string;
}

export interface Submitted {
  jobId: string;
  status: JobStatus;
}

/** An API answer that was not a success: the HTTP status and the envelope's message. */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** The message of an API error (it says what to fix), or a generic one for anything else. */
export function errorText(err: unknown): string {
  return err instanceof ApiError ? err.message : "Something went wrong. Please try again.";
}

const CSRF_HEADER = "X-Requested-With";
const CSRF_VALUE = "coderun-web";

type Query = Record<string, string | number | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function request<T>(
  method: "GET" | "POST",
  path: string,
  options: { body?: unknown; query?: Query; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers[CSRF_HEADER] = CSRF_VALUE;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "Cannot reach the CodeRun server. Check your connection and try again.");
  }
  let envelope: Partial<Envelope<T>> | null;
  try {
    envelope = (await response.json()) as Partial<Envelope<T>>;
  } catch {
    envelope = null;
  }
  if (!response.ok || !envelope || envelope.success === false) {
    const message =
      (envelope && typeof envelope.message === "string" && envelope.message) ||
      response.statusText ||
      "Request failed";
    throw new ApiError(response.status, message);
  }
  return envelope.data as T;
}

export const api = {
  signup: (email: string, password: string) =>
    request<{ email: string; credits: number }>("POST", "/api/v1/auth/signup", {
      body: { email, password },
    }),
  signin: (email: string, password: string) =>
    request<{ email: string }>("POST", "/api/v1/auth/signin", { body: { email, password } }),
  signout: () => request<unknown>("POST", "/api/v1/auth/signout", { body: {} }),
  account: () => request<Account>("GET", "/api/v1/account"),
  generateApiKey: () => request<{ apiKey: string }>("POST", "/api/v1/account/api-key", { body: {} }),
  jobs: (query: Query) => request<JobPage>("GET", "/api/v1/jobs", { query }),
  stats: (query: Query) => request<Stats>("GET", "/api/v1/jobs/stats", { query }),
  languages: () => request<Language[]>("GET", "/api/v1/languages"),
  // The judge fields go only into a submission with cases: a plain run is the v1 API's body.
  submit: (code: string, language: string, input: string, judge?: JudgeOptions) =>
    request<Submitted>("POST", "/api/v1/runner/submit", {
      body: judge ? { code, language, ...judge } : { code, language, input },
    }),
  result: (jobId: string, waitSeconds?: number, signal?: AbortSignal) =>
    request<Job>("GET", `/api/v1/runner/${encodeURIComponent(jobId)}/result`, {
      query: { wait: waitSeconds },
      signal,
    }),
  webhookSecret: () => request<WebhookSecretState>("GET", "/api/v1/account/webhook-secret"),
  rotateWebhookSecret: () =>
    request<NewWebhookSecret>("POST", "/api/v1/account/webhook-secret", { body: {} }),
  deliveries: (jobId: string, signal?: AbortSignal) =>
    request<{ deliveries: Delivery[] }>(
      "GET",
      `/api/v1/runner/${encodeURIComponent(jobId)}/deliveries`,
      { signal },
    ),
};

export function isPending(job: Pick<Job, "status">): boolean {
  return job.status === "queued" || job.status === "running";
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits for a job to finish, as docs/api.md tells clients to: ask for the result until the
 * status is neither queued nor running. Uses the server's long poll (?wait=) and falls back to
 * polling once a second when the server answers at once.
 */
export async function waitForResult(
  jobId: string,
  onUpdate: (job: Job) => void,
  signal?: AbortSignal,
): Promise<Job> {
  for (;;) {
    const started = performance.now();
    const job = await api.result(jobId, 10, signal);
    onUpdate(job);
    if (!isPending(job)) return job;
    const elapsed = performance.now() - started;
    if (elapsed < 1000) await sleep(1000 - elapsed);
  }
}
