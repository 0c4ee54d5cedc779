/**
 * dist/ is committed build output: a build on Heroku copies it into the slug instead of running npm and esbuild.
 * So it must be exactly what `npm run build:dist` makes of src/ and the lockfile's dependencies now: this test
 * builds it again into a scratch directory and compares bytes. When it fails, run `npm run build:dist` and commit.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "execpack-dist-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function digest(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

describe("dist/", () => {
  const rebuilt = join(scratch, "dist");
  execFileSync(process.execPath, [join(REPO, "lib/build-bootstrapper.mjs"), rebuilt], { cwd: REPO, stdio: "pipe" });

  it("holds one bundle per command of src/cli, and nothing else", () => {
    const commands = readdirSync(join(REPO, "src/cli")).filter((name) => name.endsWith(".ts")).map((name) => name.replace(/\.ts$/, ".cjs"));
    expect(readdirSync(join(REPO, "dist")).sort()).toEqual(commands.sort());
    expect(readdirSync(rebuilt).sort()).toEqual(commands.sort());
  });

  it.each(readdirSync(join(REPO, "dist")))("%s is what `npm run build:dist` makes of src/ and package-lock.json now (if not: run it and commit dist/)", (bundle) => {
    expect(digest(join(REPO, "dist", bundle))).toBe(digest(join(rebuilt, bundle)));
  });

  it("names the lockfile it was built against", () => {
    const lockfile = createHash("sha256").update(readFileSync(join(REPO, "package-lock.json"))).digest("hex");
    expect(readFileSync(join(REPO, "dist/execpack.cjs"), "utf8").split("\n")[0]).toContain(`package-lock.json (sha256 ${lockfile})`);
  });
});
