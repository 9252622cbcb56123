/**
 * Exceptions: one class per kind of refusal, each carrying the server's own message. Every
 * export here is public (index.ts re-exports them all); which class a status gets is in
 * statuses.ts, its default `type` in statusTypes.ts.
 */
import type { Job } from "./models.js";
import { parseRetryAfter, statusType } from "./statusTypes.js";

/** Base of every error this package throws. */
export class CodeRunError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The API refused a request: `status` is the HTTP status, `message` the envelope's (it says
 * what to fix), `type` a stable name for the kind (the envelope's own `type` when it sends one,
 * else the status's own: `bad_request`, `not_found`, ...).
 */
export class ApiError extends CodeRunError {
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
    this.type = options.type ?? statusType(status);
    this.envelope = options.envelope ?? {};
    this.headers = options.headers ?? new Headers();
  }
}

/** 400: the request is malformed or a field is out of range; the message names it. */
export class BadRequestError extends ApiError {}
/** 401: the API key is missing, malformed, unknown or revoked. */
export class AuthenticationError extends ApiError {}
/** 402: not enough credits left for the runs asked; nothing was queued. */
export class InsufficientCreditsError extends ApiError {}
/** 403: a session-authenticated request without the dashboard's header. */
export class PermissionDeniedError extends ApiError {}
/** 404: no such job for this account. */
export class NotFoundError extends ApiError {}
/** 409: an Idempotency-Key reused with another body, or a duplicate sign-up. */
export class ConflictError extends ApiError {}
/** 413: the request body is larger than the server accepts. */
export class PayloadTooLargeError extends ApiError {}
/** 429, still there after the retries (or with a Retry-After beyond the client's cap). */
export class RateLimitError extends ApiError {
  /** Seconds the server asked to wait, if it said. */
  get retryAfter(): number | null {
    return parseRetryAfter(this.headers.get("retry-after"));
  }
}
/** 503: a dependency of the server (database, Redis) is down; nothing was saved. */
export class ServiceUnavailableError extends ApiError {}
/** Any other 5xx: the server failed on its side. */
export class ServerError extends ApiError {}

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
