/** What `execpackctl try` says before it builds anything. The build itself: test/e2e/execpackctl.test.ts. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { tryApp } from "../../src/ctl/try.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

let appDir: string;
beforeEach(() => {
  appDir = mkdtempSync(join(tmpdir(), "execpack-try-"));
  writeFileSync(join(appDir, "binary.env"), "");
});
afterEach(() => rmSync(appDir, { recursive: true, force: true }));

async function tryError(envFile?: string): Promise<{ code: string; text: string }> {
  const error = await tryApp({ buildpackDir: REPO, appDir, envFile }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!isExecpackError(error)) throw new Error(`expected an ExecpackError, got ${String(error)}`);
  return { code: error.code, text: formatError(error) };
}

describe("execpackctl try without BINARY_URL", () => {
  it.each([
    ["no .env at all", () => undefined, "no file"],
    ["an .env without it", () => void writeFileSync(join(appDir, ".env"), "PORT=5000\nBINARY_URL=  \n"), "read from"],
    ["an --env-file without it", () => join(appDir, "vars.env"), "read from"],
  ])("with %s, says to add it to the file try reads", async (_case, setUp, seen) => {
    const envFile = setUp();
    if (envFile !== undefined) writeFileSync(envFile, "DATABASE_URL=postgres://u:p@db/app\n");
    const { code, text } = await tryError(envFile);
    expect(code).toBe("config.missing-binary-url");
    expect(text).toContain(seen);
    expect(text).toContain(`reads the app's config vars from ${envFile ?? join(appDir, ".env")}`);
    expect(text).toContain("  BINARY_URL=https://");
    expect(text).not.toContain("heroku config:set");
  });
});
