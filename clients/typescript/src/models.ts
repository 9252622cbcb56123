/**
 * The API's shapes, taken from the generated OpenAPI types (schema.ts, from
 * clients/openapi.json): a change of the API that the client does not follow fails `tsc`.
 */
import type { components } from "./schema.js";

type Schemas = components["schemas"];

/** A job's result (GET /api/v1/runner/{jobId}/result): status queued, running, success or failed. */
export type Job = Schemas["JobResult"];
/** One test case's own output and verdict, in `Job.testCases`. */
export type TestCaseResult = Schemas["CaseResultOut"];
/** The body of POST /api/v1/runner/submit, and one item of a batch. */
export type SubmitRequest = Schemas["SubmitRequest"];
export type TestCase = Schemas["TestCaseIn"];
export type Tolerance = Schemas["ToleranceIn"];
export type Compare = Schemas["CompareMode"];
export type Delivery = Schemas["Delivery"];
export type DeliveryAttempt = Schemas["DeliveryAttempt"];
export type WebhookSecret = Schemas["WebhookSecretCreated"];
export type WebhookSecretStatus = Schemas["WebhookSecretStatus"];

/** The optional fields of a submission (everything but code, language and input). */
export type SubmitOptions = Omit<SubmitRequest, "code" | "language" | "input">;

/** What submit answers: the job's id and its first status ("queued"). */
export type Submission = Schemas["Submitted"];
export type Account = Schemas["AccountOut"];
export type Language = Schemas["LanguageOut"];

// Written by hand: BatchEntry and Envelope are unions of schemas in the document
// (BatchAccepted | BatchRefused; an Envelope per data model | ErrorEnvelope) that a caller would
// have to narrow before reading a field, so each is one shape here with its optional fields
// marked; ErrorInfo's `code` is optional because runBatch makes one for an item refused without
// an error.

/**
 * Why one item of a batch was refused (or, in batch results, why a jobId has none): `type`
 * such as "BadRequest" or "NotFound", the HTTP status it would have had as `code`.
 */
export interface ErrorInfo {
  type: string;
  message: string;
  code?: number;
}

/** One item of a batch submit's answer: a job, or the error that refused that item alone. */
export interface BatchEntry {
  index: number;
  jobId?: string;
  status?: string;
  error?: ErrorInfo;
}

/** The envelope around every answer of the v1 API (docs/api.md). */
export interface Envelope<T> {
  code: number;
  success: boolean;
  message: string;
  data: T | null;
  type?: string;
}

export const FINAL_STATUSES: readonly string[] = ["success", "failed"];

/** True once the job is success or failed; it never changes after that. */
export function isFinal(job: Pick<Job, "status">): boolean {
  return FINAL_STATUSES.includes(job.status);
}
