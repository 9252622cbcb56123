/**
 * Internal (not exported by index.ts): which error class and stable `type` each HTTP status of
 * a refusal stands for, and the Retry-After header of one.
 */
import * as errors from "./errors.js";

type Kind = [typeof errors.ApiError, string];

// errors.ts and this module import each other (ApiError's default `type` is read here), so
// the table is built on first use, once both have loaded, whichever of them loads first.
let byStatus: Record<number, Kind> | undefined;

/** Each status's class and the stable `type` its errors carry when the envelope names none. */
export function kind(status: number): Kind {
  byStatus ??= {
    400: [errors.BadRequestError, "bad_request"],
    401: [errors.AuthenticationError, "unauthorized"],
    402: [errors.InsufficientCreditsError, "insufficient_credits"],
    403: [errors.PermissionDeniedError, "forbidden"],
    404: [errors.NotFoundError, "not_found"],
    409: [errors.ConflictError, "conflict"],
    413: [errors.PayloadTooLargeError, "payload_too_large"],
    429: [errors.RateLimitError, "rate_limited"],
    503: [errors.ServiceUnavailableError, "unavailable"],
  };
  return (
    byStatus[status] ??
    (status >= 500 ? [errors.ServerError, "server_error"] : [errors.ApiError, "api_error"])
  );
}

export function errorClass(status: number): typeof errors.ApiError {
  return kind(status)[0];
}

/** Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}
