/**
 * The top-level handler, in a process of its own as every command runs it: an expected failure prints its code
 * and no stack; anything else, including an exception thrown where no promise of ours sees it (the way undici
 * 7 threw from a socket handler), says "internal error" with the exception's code, `internal.error` and the
 * report link, and ends the process with status 70.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const MAIN = pathToFileURL(fileURLToPath(new URL("../../src/common/main.ts", import.meta.url))).href;
const ERRORS = pathToFileURL(fileURLToPath(new URL("../../src/common/errors.ts", import.meta.url))).href;
const work = mkdtempSync(join(tmpdir(), "execpack-main-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runCommand(name: string, body: string) {
  const file = join(work, `${name}.ts`);
  writeFileSync(file, `import { runMain } from ${JSON.stringify(MAIN)};\nimport { ExecpackError } from ${JSON.stringify(ERRORS)};\nvoid ExecpackError;\n${body}\n`);
  return spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", cwd: fileURLToPath(new URL("../..", import.meta.url)) });
}

describe("runMain", () => {
  it.each([
    ["thrown into the command's promise", "void runMain(async () => { throw Object.assign(new Error('boom at postgres://u:hunter2@db/x'), { code: 'ERR_ASSERTION' }); });"],
    ["thrown from an event handler, outside every promise", "void runMain(() => new Promise(() => { setTimeout(() => { throw Object.assign(new Error('boom at postgres://u:hunter2@db/x'), { code: 'ERR_ASSERTION' }); }, 1); }));"],
    ["a promise rejected with nobody waiting", "void runMain(() => { void Promise.reject(Object.assign(new Error('boom at postgres://u:hunter2@db/x'), { code: 'ERR_ASSERTION' })); return new Promise(() => {}); });"],
  ])("a bug %s: internal error with its code and the report link, status 70", (name, body) => {
    const result = runCommand(name.replace(/\W+/g, "-"), body);
    expect(result.status, result.stderr).toBe(70);
    expect(result.stderr).toContain(" !     execpack: internal error (ERR_ASSERTION) [internal.error]");
    expect(result.stderr).toContain("Please report it with the lines above: https://github.com/execpack/execpack/issues");
    expect(result.stderr).toContain("postgres://u:*****@db/x");
    expect(result.stderr).not.toContain("hunter2");
  });

  it("a command that waits for what never comes (the loop runs dry): internal error, status 70, never 0", () => {
    const result = runCommand("drained", "void runMain(() => new Promise(() => {}));");
    expect(result.status, result.stderr).toBe(70);
    expect(result.stderr).toContain("execpack: internal error [internal.error]");
    expect(result.stderr).toContain("the command stopped with work unfinished");
  });

  it("a command that ends normally exits with its status, and one that returns nothing with 0", () => {
    expect(runCommand("returns-3", "void runMain(async () => 3);").status).toBe(3);
    const done = runCommand("returns-nothing", "void runMain(async () => { await new Promise((resolve) => setTimeout(resolve, 5)); });");
    expect([done.status, done.stderr]).toEqual([0, ""]);
  });

  it("an ExecpackError prints its code and hint, no stack, status 1", () => {
    const result = runCommand("expected", "void runMain(() => { throw new ExecpackError('config.missing-binary-url', 'BINARY_URL is not set', { hint: 'set it' }); });");
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(" !     BINARY_URL is not set [config.missing-binary-url]\n !     \n !     set it\n");
  });
});
