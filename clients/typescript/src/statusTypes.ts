/**
 * Internal (not exported by index.ts): the stable `type` an error of each HTTP status carries
 * when the envelope names none, and the Retry-After header of a refusal. No error classes
 * here, so errors.ts can import it (statuses.ts maps statuses to the classes).
 */

const TYPES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  402: "insufficient_credits",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  429: "rate_limited",
  503: "unavailable",
};

/** The status's stable `type`: `bad_request`, `not_found`, ..., `server_error`, `api_error`. */
export function statusType(status: number): string {
  return TYPES[status] ?? (status >= 500 ? "server_error" : "api_error");
}

/** Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}
