// Every public method of CodeRunClient against a real server (test/server.mjs).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  ApiError,
  AuthenticationError,
  BadRequestError,
  CodeRunClient,
  ConflictError,
  InsufficientCreditsError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitError,
  TransportError,
  WaitTimeoutError,
  isFinal,
} from "../dist/index.js";
import { startServer } from "./server.mjs";

const SLEEPY = "import time\ntime.sleep(2)\nprint('late')\n";

describe("CodeRunClient", () => {
  let server;
  const clientFor = async (options = {}) => new CodeRunClient({ baseUrl: server.base, apiKey: await server.newKey(), ...options });

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test("run resolves with the final result and every field", async () => {
    const job = await (await clientFor()).run("print(input()[::-1])", "python", "olleh");
    assert.equal(job.status, "success");
    assert.equal(job.stdout, "hello\n");
    assert.equal(job.exitCode, 0);
    assert.equal(job.sandboxErrorType, null);
    assert.equal(job.jobId.length, 24);
    assert.ok(isFinal(job));
    assert.equal(job.totalTimeMs, job.queueTimeMs + job.executionTimeMs);
  });

  test("failures are verdicts, not exceptions", async () => {
    const client = await clientFor();
    const spin = await client.run("while True: pass", "python");
    assert.deepEqual([spin.status, spin.sandboxErrorType], ["failed", "TLE"]);
    const broken = await client.run("int main( {", "cpp");
    assert.equal(broken.sandboxErrorType, "CompilationError");
    const crash = await client.run("process.exit(3)", "javascript");
    assert.deepEqual([crash.sandboxErrorType, crash.exitCode], ["RuntimeError", 3]);
  });

  test("submit, result, wait and a timeout that leaves the job running", async () => {
    const client = await clientFor();
    const submission = await client.submit(SLEEPY, "python");
    assert.equal(submission.status, "queued");
    const first = await client.result(submission.jobId);
    assert.ok(["queued", "running"].includes(first.status));
    const still = await client.result(submission.jobId, { wait: 0.5 });
    assert.ok(!isFinal(still));
    await assert.rejects(client.wait(submission.jobId, { timeoutMs: 300 }), (error) => {
      assert.ok(error instanceof WaitTimeoutError);
      assert.equal(error.job.jobId, submission.jobId);
      return true;
    });
    const done = await client.wait(submission.jobId);
    assert.equal(done.stdout, "late\n");
    assert.deepEqual(await client.result(submission.jobId), done);
  });

  test("submit is idempotent under its key", async () => {
    const client = await clientFor();
    const first = await client.submit("print('once')", "python", "", { idempotencyKey: "order-17" });
    const again = await client.submit("print('once')", "python", "", { idempotencyKey: "order-17" });
    assert.equal(again.jobId, first.jobId);
    await assert.rejects(client.submit("print(2)", "python", "", { idempotencyKey: "order-17" }), ConflictError);
    const a = await client.submit("print(1)", "python");
    const b = await client.submit("print(1)", "python");
    assert.notEqual(a.jobId, b.jobId);
  });

  test("errors carry the server's message and a type", async () => {
    const client = await clientFor();
    await assert.rejects(client.submit("puts 1", "ruby"), (error) => {
      assert.ok(error instanceof BadRequestError && error instanceof ApiError);
      assert.equal(error.status, 400);
      assert.equal(error.type, "bad_request");
      assert.equal(error.message, "unsupported language 'ruby'; supported: python, javascript, cpp, java");
      assert.equal(error.envelope.success, false);
      return true;
    });
    await assert.rejects(client.submit("x".repeat(300_000), "python"), PayloadTooLargeError);
    await assert.rejects(client.result("0".repeat(24)), (error) => error instanceof NotFoundError && error.type === "not_found");
    const stranger = new CodeRunClient({ baseUrl: server.base, apiKey: "nr_live_" + "x".repeat(43) });
    await assert.rejects(stranger.run("print(1)", "python"), (error) => {
      assert.ok(error instanceof AuthenticationError);
      assert.match(error.message, /X-API-KEY/);
      return true;
    });
    const broke = new CodeRunClient({ baseUrl: server.base, apiKey: await server.newKey(0) });
    await assert.rejects(broke.submit("print(1)", "python"), InsufficientCreditsError);
  });

  test("an unreachable server is a TransportError", async () => {
    const client = new CodeRunClient({ baseUrl: "http://127.0.0.1:9", apiKey: "k", retry: { maxRetries: 1, backoffMs: 10 } });
    await assert.rejects(client.result("0".repeat(24)), (error) => error instanceof TransportError && /cannot reach/.test(error.message));
  });

  test("account, credits and languages", async () => {
    const client = await clientFor();
    const before = await client.account();
    await client.run("print(1)", "python");
    await client.run("raise SystemExit(1)", "python");
    const afterRuns = await client.account();
    assert.equal(afterRuns.credits, before.credits - 1); // only the success is charged
    assert.equal(afterRuns.hasApiKey, true);
    assert.deepEqual((await client.languages()).map((l) => l.key), ["python", "javascript", "cpp", "java"]);
  });

  test("test cases and batches", async () => {
    const client = await clientFor();
    const double = "print(int(input()) * 2)";
    const judged = await client.run(double, "python", "", {
      testCases: [{ input: "2", expectedOutput: "4" }, { input: "3", expectedOutput: "7" }],
    });
    assert.deepEqual([judged.status, judged.sandboxErrorType, judged.testCasesPassed, judged.testCasesTotal], ["failed", "WrongAnswer", 1, 2]);
    assert.deepEqual(judged.testCases.map((c) => [c.index, c.passed, c.stdout]), [[0, true, "4\n"], [1, false, "6\n"]]);
    const argv = await client.run("import sys\nprint(sys.argv[1:])", "python", "", { commandLineArguments: ["x"] });
    assert.equal(argv.stdout, "['x']\n");

    const requests = [{ code: "print('a')", language: "python" }, { code: "puts 1", language: "ruby" }];
    const entries = await client.submitBatch(requests);
    assert.ok(entries[0].jobId);
    assert.deepEqual([entries[1].jobId, entries[1].error.code], [undefined, 400]);
    const results = await client.runBatch(requests);
    assert.equal(results[0].stdout, "a\n");
    assert.equal(results[1].type, "BadRequest");
    const current = await client.batchResults([entries[0].jobId, "0".repeat(24)]);
    assert.equal(current[0].jobId, entries[0].jobId);
    assert.equal(current[1].code, 404);
  });

  test("baseUrl is required outside a browser", () => {
    assert.throws(() => new CodeRunClient({ apiKey: "k" }), TypeError);
  });
});

describe("retries", () => {
  let server;
  before(async () => {
    server = await startServer({ CODERUN_SUBMIT_RATE_LIMIT: "2/3 seconds" });
  });
  after(async () => {
    await server?.stop();
  });

  test("429 is retried after Retry-After", async () => {
    const statuses = [];
    const counting = async (input, init) => {
      const response = await fetch(input, init);
      statuses.push(response.status);
      return response;
    };
    const client = new CodeRunClient({ baseUrl: server.base, apiKey: await server.newKey(), fetch: counting });
    const ids = [];
    for (let n = 0; n < 4; n++) ids.push((await client.submit(`print(${n})`, "python")).jobId);
    assert.equal(new Set(ids).size, 4);
    assert.ok(statuses.includes(429), String(statuses));
    for (const [n, id] of ids.entries()) assert.equal((await client.wait(id)).stdout, `${n}\n`);
  });

  test("a Retry-After beyond the cap is thrown as RateLimitError, saying when", async () => {
    // a dropped keep-alive connection is still retried (backoff 10 ms), a 429's 3 s is not
    const retry = { maxRetries: 3, maxDelayMs: 100, backoffMs: 10 };
    const client = new CodeRunClient({ baseUrl: server.base, apiKey: await server.newKey(), retry });
    await assert.rejects(
      // at once: the limit is hit whatever this machine's pace
      Promise.all([0, 1, 2, 3].map((n) => client.submit(`print(${n})`, "python"))),
      (error) => {
        assert.ok(error instanceof RateLimitError, `${error.name}: ${error.message}`);
        assert.equal(error.status, 429);
        assert.match(error.message, /too many submissions/);
        assert.ok(error.retryAfter >= 1);
        return true;
      },
    );
  });
});
