/**
 * Verify a webhook delivery: Standard Webhooks signatures (https://www.standardwebhooks.com/),
 * with WebCrypto only, so it runs in Node 20, Deno, workers and browsers alike.
 *
 * A delivery carries `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`,
 * a space-separated list of `v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"`, keyed
 * with the secret's base64-decoded bytes (the part after `whsec_`). During a secret rotation's
 * grace period the list holds one signature per valid secret; any one matching is enough.
 */
import { WebhookVerificationError } from "./errors.js";
import type { Envelope, Job } from "./models.js";

const SECRET_PREFIX = "whsec_";
/** The reference libraries' window: older or newer deliveries are replays (or a wrong clock). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** A verified delivery. `id` is the same on every retry of it: deduplicate by it. */
export interface WebhookEvent {
  id: string;
  timestamp: number;
  job: Job;
  envelope: Envelope<Job>;
}

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  const raw = decodeBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  if (raw === null) {
    throw new WebhookVerificationError(
      "the webhook secret is not base64 after 'whsec_'; copy it exactly as the API showed it",
    );
  }
  if (raw.length === 0) throw new WebhookVerificationError("the webhook secret is empty");
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function signedContent(id: string, timestamp: number, payload: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const head = new TextEncoder().encode(`${id}.${timestamp}.`);
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const content = new Uint8Array(head.length + body.length);
  content.set(head);
  content.set(body, head.length);
  return content;
}

/** The `v1,<signature>` entry that `secret` gives this delivery. */
export async function signWebhook(
  secret: string,
  id: string,
  timestamp: number,
  payload: string | Uint8Array,
): Promise<string> {
  const key = await hmacKey(secret);
  const digest = await crypto.subtle.sign("HMAC", key, signedContent(id, timestamp, payload));
  return `v1,${encodeBase64(new Uint8Array(digest))}`;
}

function isHeaders(headers: HeaderSource): headers is Headers {
  return typeof (headers as Headers).get === "function";
}

function header(headers: HeaderSource, name: string): string | null {
  if (isHeaders(headers)) return headers.get(name);
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && value !== undefined) return Array.isArray(value) ? value.join(" ") : value;
  }
  return null;
}

/**
 * Check a delivery and resolve to it parsed; rejects with WebhookVerificationError otherwise.
 * `payload` must be the raw request body exactly as received (re-serialised JSON does not
 * verify). `secret` may be a list, e.g. the old and the new one while you roll yours out.
 */
export async function verifyWebhook(
  payload: string | Uint8Array,
  headers: HeaderSource,
  secret: string | string[],
  options: { toleranceSeconds?: number; now?: number } = {},
): Promise<WebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestampText = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  const missing = [
    ["webhook-id", id],
    ["webhook-timestamp", timestampText],
    ["webhook-signature", signatures],
  ]
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (missing.length > 0 || !id || !timestampText || !signatures) {
    throw new WebhookVerificationError(`missing header(s): ${missing.join(", ")}`);
  }
  if (!/^\d+$/.test(timestampText)) {
    throw new WebhookVerificationError(`webhook-timestamp is not unix seconds: ${JSON.stringify(timestampText)}`);
  }
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = options.now ?? Date.now() / 1000;
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError(
      `webhook-timestamp ${timestamp} is ${Math.round(now - timestamp)} s from now, outside the ${tolerance} s tolerance (a replay, or a wrong clock)`,
    );
  }
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookVerificationError("no secret given");
  const content = signedContent(id, timestamp, payload);
  const offered = signatures
    .split(/\s+/)
    .filter((entry) => entry.startsWith("v1,"))
    .map((entry) => decodeBase64(entry.slice(3)))
    .filter((bytes): bytes is Uint8Array<ArrayBuffer> => bytes !== null && bytes.length > 0);
  let matched = false;
  for (const candidate of secrets) {
    const key = await hmacKey(candidate);
    for (const signature of offered) {
      // subtle.verify compares in constant time: the answer's timing says nothing about
      // how close a forgery came.
      if (await crypto.subtle.verify("HMAC", key, signature, content)) matched = true;
    }
  }
  if (!matched) throw new WebhookVerificationError("no webhook-signature matches the secret");
  let envelope: unknown;
  try {
    envelope = JSON.parse(typeof payload === "string" ? payload : new TextDecoder().decode(payload));
  } catch (error) {
    throw new WebhookVerificationError(`the signed body is not JSON: ${String(error)}`);
  }
  const data = (envelope as { data?: unknown } | null)?.data;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new WebhookVerificationError("the signed body is not a result envelope");
  }
  return { id, timestamp, job: data as Job, envelope: envelope as Envelope<Job> };
}
