// A real `coderun serve` for the tests: SQLite, the embedded executor, a free port and a data
// directory of its own, started from this checkout's .venv (or CODERUN_BIN).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, "../../..");
const CODERUN = process.env.CODERUN_BIN ?? join(REPO, ".venv/bin/coderun");

async function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

export async function startServer(settings = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "coderun-ts-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CODERUN_")));
  Object.assign(env, {
    CODERUN_DATA_DIR: dataDir,
    CODERUN_ENV: "development",
    CODERUN_EXECUTOR: "local",
    CODERUN_LOG_FORMAT: "text",
    // the tests' own webhook listener lives on 127.0.0.1, refused by default (SSRF)
    CODERUN_WEBHOOK_ALLOWLIST: "127.0.0.1",
    CODERUN_WEBHOOK_BACKOFF_BASE_SECONDS: "0.5",
    // keys come from sign-ups (newKey): the default 10/minute per address would pace the suite
    CODERUN_AUTH_RATE_LIMIT: "1000/minute",
    ...settings,
  });
  const port = await freePort();
  const child = spawn(CODERUN, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (chunk) => {
    log = (log + chunk).slice(-4000);
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) break;
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  if (child.exitCode !== null) throw new Error(`coderun serve exited:\n${log}`);
  let accounts = 0;
  return {
    base,
    /**
     * A new account's API key: a sign-up and the dashboard's key route, as a user gets one
     * (a `coderun account create` process per key is much slower); `credits` other than the
     * sign-up default go through the CLI.
     */
    async newKey(credits = null) {
      const email = `ts-${process.pid}-${++accounts}-${Date.now()}@example.com`;
      if (credits !== null) {
        const out = execFileSync(CODERUN, ["account", "create", email, "--credits", String(credits)], {
          env,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
        return out.trim().split("\n").at(-1).trim();
      }
      const signup = await fetch(`${base}/api/v1/auth/signup`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email, password: "a long enough password" }),
      });
      if (signup.status !== 201) throw new Error(`sign-up: ${signup.status} ${await signup.text()}`);
      const cookie = signup.headers.get("set-cookie").split(";")[0];
      const key = await fetch(`${base}/api/v1/account/api-key`, {
        method: "POST",
        headers: { Cookie: cookie, "X-Requested-With": "coderun-web" },
      });
      if (key.status !== 201) throw new Error(`api-key: ${key.status} ${await key.text()}`);
      return (await key.json()).data.apiKey;
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((done) => (child.exitCode !== null ? done() : child.once("exit", done)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
