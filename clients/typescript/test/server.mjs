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
    /** A new account's API key (`coderun account create` prints it last). */
    newKey(credits = 100) {
      const email = `ts-${process.pid}-${++accounts}-${Date.now()}@example.com`;
      const out = execFileSync(CODERUN, ["account", "create", email, "--credits", String(credits)], {
        env,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      return out.trim().split("\n").at(-1).trim();
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((done) => (child.exitCode !== null ? done() : child.once("exit", done)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
