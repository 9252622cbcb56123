/**
 * Internal (not exported by index.ts): which error class each HTTP status of a refusal stands
 * for. The stable `type` of each status is in statusTypes.ts.
 */
import * as errors from "./errors.js";

const CLASSES: Record<number, typeof errors.ApiError> = {
  400: errors.BadRequestError,
  401: errors.AuthenticationError,
  402: errors.InsufficientCreditsError,
  403: errors.PermissionDeniedError,
  404: errors.NotFoundError,
  409: errors.ConflictError,
  413: errors.PayloadTooLargeError,
  429: errors.RateLimitError,
  503: errors.ServiceUnavailableError,
};

export function errorClass(status: number): typeof errors.ApiError {
  return CLASSES[status] ?? (status >= 500 ? errors.ServerError : errors.ApiError);
}
