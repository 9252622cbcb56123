/** The official TypeScript client of the CodeRun API (clients/typescript/README.md). */
export { CodeRunClient, MAX_WAIT_SECONDS, VERSION } from "./client.js";
export type { ClientOptions, RetryPolicy, RunOptions } from "./client.js";
export * from "./errors.js";
export { FINAL_STATUSES, isFinal } from "./models.js";
export type {
  Account,
  BatchEntry,
  Compare,
  Delivery,
  DeliveryAttempt,
  Envelope,
  ErrorInfo,
  Job,
  Language,
  SubmitOptions,
  SubmitRequest,
  Submission,
  TestCase,
  TestCaseResult,
  Tolerance,
  WebhookSecret,
  WebhookSecretStatus,
} from "./models.js";
export { DEFAULT_TOLERANCE_SECONDS, signWebhook, verifyWebhook } from "./webhooks.js";
export type { HeaderSource, WebhookEvent } from "./webhooks.js";
