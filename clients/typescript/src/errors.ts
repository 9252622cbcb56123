/** Exceptions: one class per kind of refusal, each carrying the server's own message. */
import type { Job } from "./models.js";

/** Base of every error this package throws. */
export class CodeRunError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The API refused a request: `status` is the HTTP status, `message` the envelope's (it says
 * what to fix), `type` a stable name for the kind (the envelope's own `type` when it sends one).
 */
export class ApiError extends CodeRunError {
  static readonly defaultType: string = "api_error";
  readonly status: number;
  readonly type: string;
  readonly envelope: Record<string, unknown>;
  readonly headers: Headers;

  constructor(
    status: number,
    message: string,
    options: { type?: string; envelope?: Record<string, unknown>; headers?: Headers } = {},
  ) {
    super(message);
    this.status = status;
    this.type = options.type ?? (new.target as typeof ApiError).defaultType;
    this.envelope = options.envelope ?? {};
    this.headers = options.headers ?? new Headers();
  }
}

export class BadRequestError extends ApiError {
  static override readonly defaultType = "bad_request";
}
export class AuthenticationError extends ApiError {
  static override readonly defaultType = "unauthorized";
}
export class InsufficientCreditsError extends ApiError {
  static override readonly defaultType = "insufficient_credits";
}
export class PermissionDeniedError extends ApiError {
  static override readonly defaultType = "forbidden";
}
export class NotFoundError extends ApiError {
  static override readonly defaultType = "not_found";
}
export class ConflictError extends ApiError {
  static override readonly defaultType = "conflict";
}
export class PayloadTooLargeError extends ApiError {
  static override readonly defaultType = "payload_too_large";
}
/** 429, still there after the retries (or with a Retry-After beyond the client's cap). */
export class RateLimitError extends ApiError {
  static override readonly defaultType = "rate_limited";
  /** Seconds the server asked to wait, if it said. */
  get retryAfter(): number | null {
    return parseRetryAfter(this.headers.get("retry-after"));
  }
}
/** 503: a dependency of the server (database, Redis) is down; nothing was saved. */
export class ServiceUnavailableError extends ApiError {
  static override readonly defaultType = "unavailable";
}
export class ServerError extends ApiError {
  static override readonly defaultType = "server_error";
}

const BY_STATUS: Record<number, typeof ApiError> = {
  400: BadRequestError,
  401: AuthenticationError,
  402: InsufficientCreditsError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  429: RateLimitError,
  503: ServiceUnavailableError,
};

export function errorClass(status: number): typeof ApiError {
  return BY_STATUS[status] ?? (status >= 500 ? ServerError : ApiError);
}

/** The server could not be reached, or the connection broke (after the retries). */
export class TransportError extends CodeRunError {}

/**
 * The job was not final within the time run/wait was given. It keeps running on the server:
 * `job` is its last state.
 */
export class WaitTimeoutError extends CodeRunError {
  readonly job: Job;
  constructor(job: Job, waitedMs: number) {
    super(`job ${job.jobId} still ${job.status} after ${Math.round(waitedMs / 1000)} s`);
    this.job = job;
  }
}

/** A webhook delivery whose signature, timestamp or body does not check out: reject it. */
export class WebhookVerificationError extends CodeRunError {}

/** Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}
