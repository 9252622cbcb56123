// verifyWebhook: the Standard Webhooks specification's published test vector (the reference
// libraries' "sign function works": standard-webhooks/standard-webhooks,
// libraries/javascript/src/webhook.test.ts), forgeries and replays, and real deliveries
// from a real server to a listener this test runs on 127.0.0.1.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { CodeRunClient, WebhookVerificationError, signWebhook, verifyWebhook } from "../dist/index.js";
import { startServer } from "./server.mjs";

const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const OTHER = "whsec_" + Buffer.from("another secret of thirty-two by").toString("base64");
const RESULT = JSON.stringify({
  code: 200,
  success: true,
  message: "job result fetched successfully",
  data: { jobId: "695bd82641bcbdea08ee3fbc", status: "success", language: "python", stdout: "hi\n" },
});
const NOW = 1_800_000_000;

async function signed(secrets, body, { at = NOW, id = "d-1" } = {}) {
  const signatures = await Promise.all(secrets.map((s) => signWebhook(s, id, at, body)));
  return { "webhook-id": id, "webhook-timestamp": String(at), "webhook-signature": signatures.join(" ") };
}

describe("verifyWebhook offline", () => {
  test("the published vector signs exactly, with or without the prefix", async () => {
    assert.equal(await signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
    const bare = VECTOR.secret.slice("whsec_".length);
    assert.equal(await signWebhook(bare, VECTOR.id, VECTOR.timestamp, new TextEncoder().encode(VECTOR.body)), VECTOR.signature);
    const headers = { "webhook-id": VECTOR.id, "webhook-timestamp": String(VECTOR.timestamp), "webhook-signature": VECTOR.signature };
    // the signature passes; the vector's body is simply not a result envelope
    await assert.rejects(verifyWebhook(VECTOR.body, headers, VECTOR.secret, { now: VECTOR.timestamp }), /not a result envelope/);
  });

  test("a signed result verifies and parses; headers may be a Headers object", async () => {
    const event = await verifyWebhook(RESULT, new Headers(await signed([OTHER], RESULT)), OTHER, { now: NOW });
    assert.deepEqual([event.id, event.timestamp, event.job.stdout], ["d-1", NOW, "hi\n"]);
    const upper = Object.fromEntries(Object.entries(await signed([OTHER], RESULT)).map(([k, v]) => [k.toUpperCase(), v]));
    assert.equal((await verifyWebhook(new TextEncoder().encode(RESULT), upper, OTHER, { now: NOW })).id, "d-1");
  });

  test("during a rotation either signature is enough", async () => {
    const both = await signed([VECTOR.secret, OTHER], RESULT);
    await verifyWebhook(RESULT, both, VECTOR.secret, { now: NOW });
    await verifyWebhook(RESULT, both, OTHER, { now: NOW });
    await verifyWebhook(RESULT, await signed([VECTOR.secret], RESULT), [OTHER, VECTOR.secret], { now: NOW });
  });

  test("forgeries are refused", async () => {
    const good = await signed([OTHER], RESULT);
    const cases = [
      [good, RESULT.replace('"hi', '"ho')],
      [{ ...good, "webhook-id": "d-2" }, RESULT],
      [{ ...good, "webhook-timestamp": String(NOW + 1) }, RESULT],
      [{ ...good, "webhook-signature": good["webhook-signature"].slice(0, 12) }, RESULT],
      [{ ...good, "webhook-signature": "v2," + good["webhook-signature"].slice(3) }, RESULT],
      [{ ...good, "webhook-signature": "v1," }, RESULT],
      [{ ...good, "webhook-id": undefined }, RESULT],
      [{ ...good, "webhook-timestamp": "soon" }, RESULT],
    ];
    for (const [headers, body] of cases) {
      await assert.rejects(verifyWebhook(body, headers, OTHER, { now: NOW }), WebhookVerificationError, JSON.stringify(headers));
    }
    await assert.rejects(verifyWebhook(RESULT, good, VECTOR.secret, { now: NOW }), /no webhook-signature matches/);
    await assert.rejects(verifyWebhook(RESULT, good, "whsec_not*base64", { now: NOW }), /not base64/);
  });

  test("replays outside five minutes are refused both ways", async () => {
    const good = await signed([OTHER], RESULT);
    await verifyWebhook(RESULT, good, OTHER, { now: NOW + 300 });
    await verifyWebhook(RESULT, good, OTHER, { now: NOW - 300 });
    for (const now of [NOW + 301, NOW - 301]) {
      await assert.rejects(verifyWebhook(RESULT, good, OTHER, { now }), /tolerance/);
    }
    await verifyWebhook(RESULT, good, OTHER, { now: NOW + 3600, toleranceSeconds: 3600 });
  });
});

describe("real deliveries", () => {
  let server;
  let listener;
  const received = [];
  let waiting = [];

  before(async () => {
    server = await startServer();
    listener = createServer((request, response) => {
      const chunks = [];
      request.on("data", (chunk) => chunks.push(chunk));
      request.on("end", () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks) });
        response.end("ok");
        for (const wake of waiting) wake();
        waiting = [];
      });
    });
    await new Promise((done) => listener.listen(0, "127.0.0.1", done));
  });
  after(async () => {
    listener?.close();
    await server?.stop();
  });

  async function nextDelivery(count) {
    for (let i = 0; i < 600 && received.length < count; i++) {
      await new Promise((wake) => {
        waiting.push(wake);
        setTimeout(wake, 100);
      });
    }
    assert.ok(received.length >= count, "no delivery arrived");
    return received[count - 1];
  }

  test("the server's signature verifies, the body is the result, the log says delivered", async () => {
    const client = new CodeRunClient({ baseUrl: server.base, apiKey: await server.newKey() });
    assert.equal((await client.webhookSecretStatus()).configured, false);
    const old = (await client.rotateWebhookSecret()).secret;
    const url = `http://127.0.0.1:${listener.address().port}/hook`;
    const job = await client.run("print('pushed')", "python", "", { callbackUrl: url });
    const delivery = await nextDelivery(1);
    const event = await verifyWebhook(delivery.body, delivery.headers, old);
    assert.deepEqual(event.job, job);
    // The receiver has the request before the sender records its answer: wait for the log
    // to catch up (bounded rounds, not a timed assertion).
    let [logged] = await client.deliveries(job.jobId);
    for (let round = 0; round < 100 && logged.state === "pending"; round++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      [logged] = await client.deliveries(job.jobId);
    }
    assert.equal(logged.state, "delivered");
    assert.deepEqual(logged.attempts.map((a) => a.statusCode), [200]);
    await assert.rejects(verifyWebhook(delivery.body.toString().replace("pushed", "pulled"), delivery.headers, old), WebhookVerificationError);

    const rotated = await client.rotateWebhookSecret();
    assert.notEqual(rotated.previousValidUntil, null);
    await client.run("print(2)", "python", "", { callbackUrl: url });
    const second = await nextDelivery(2);
    assert.equal(second.headers["webhook-signature"].split(" ").length, 2);
    assert.equal((await verifyWebhook(second.body, second.headers, old)).job.stdout, "2\n");
    assert.equal((await verifyWebhook(second.body, second.headers, rotated.secret)).job.stdout, "2\n");
  });
});
