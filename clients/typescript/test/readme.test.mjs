// README.md's examples, each run as its own ES module against a real server. Blocks whose
// first line starts with "// browser:" are for a page (tests/clients/test_typescript_browser.py).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { startServer } from "./server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Inside the package, so `import ... from "coderun-client"` resolves to it (self-reference).
const scratch = join(root, ".readme");
const blocks = [...readFileSync(join(root, "README.md"), "utf8").matchAll(/```js\n([\s\S]*?)```/g)]
  .map((match) => match[1])
  .filter((code) => !code.startsWith("// browser:"));

let server;
before(async () => {
  server = await startServer();
  mkdirSync(scratch, { recursive: true });
});
after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await server?.stop();
});

test("the README has examples", () => assert.ok(blocks.length >= 4, String(blocks.length)));

for (const [index, code] of blocks.entries()) {
  test(`README example ${index + 1}: ${code.split("\n")[0]}`, async () => {
    const file = join(scratch, `example-${index + 1}.mjs`);
    writeFileSync(file, code);
    const env = { ...process.env, CODERUN_URL: server.base, CODERUN_API_KEY: await server.newKey() };
    const { stdout } = await promisify(execFile)(process.execPath, [file], { env, cwd: root, timeout: 120_000 });
    if (code.includes("sandboxErrorType); // failed TLE")) assert.match(stdout, /failed TLE/);
    if (code.includes("BadRequestError")) assert.match(stdout, /400 bad_request unsupported language 'ruby'/);
    if (code.includes("testCases:")) assert.match(stdout, /WrongAnswer 1\/2/);
  });
}
