/**
 * lib/bootstrapper.sh: how the install step's end is reported, and the warm-up of the boot-time fetch's V8 code cache (BINARY_FETCH=boot): made only by a
 * Node.js whose compile cache is portable (24.12 and later), since an older one's cache, keyed by the build's
 * absolute path, would miss once the slug moves and be rewritten into the slug at every boot.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "execpack-bootstrapper-sh-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A `node` that answers --version with `version` and otherwise, as Node.js with a compile cache would, writes into NODE_COMPILE_CACHE. */
function fakeNode(version: string): string {
  const node = join(work, `node-${version}`);
  writeFileSync(node, `#!/bin/bash\n[[ "$1" == --version ]] && { echo ${version}; exit 0; }\nmkdir -p "$NODE_COMPILE_CACHE" && touch "$NODE_COMPILE_CACHE/entry"\n`, { mode: 0o755 });
  return node;
}

describe("bootstrapper::warm_boot_fetch", () => {
  it.each([
    ["v24.21.0", true],
    ["v24.12.0", true],
    ["v25.1.0", true],
    ["v24.11.1", false],
    ["v22.19.0", false],
  ])("with Node.js %s leaves a compile cache in the slug: %s", (version, cached) => {
    const slug = join(work, `slug-${version}`);
    mkdirSync(slug, { recursive: true });
    const script = `set -euo pipefail; source lib/output.sh; source lib/nodejs.sh; source lib/bootstrapper.sh; bootstrapper::warm_boot_fetch ${JSON.stringify(fakeNode(version))} ${JSON.stringify(slug)}`;
    const result = spawnSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(join(slug, "compile-cache/entry"))).toBe(cached);
  });
});

describe("bootstrapper::run", () => {
  const run = (command: string) =>
    spawnSync("bash", ["-c", 'set -euo pipefail; source lib/output.sh; source lib/bootstrapper.sh; status=0; bootstrapper::run bash -c "$STEP" || status=$?; echo "status $status"'], {
      cwd: REPO, encoding: "utf8", env: { PATH: process.env.PATH, STEP: command },
    });

  it.each([["exit 0", 0], ["exit 1", 1], ["exit 70", 70]])("passes execpack's own status on without a word of its own: %s", (command, status) => {
    const result = run(command);
    expect(result.stdout).toContain(`status ${status}`);
    expect(result.stdout + result.stderr).not.toContain("internal.crashed");
  });

  it("says when Node.js itself did not start the step (a status that is not execpack's), naming the Node.js", () => {
    const result = run("exit 3");
    expect(result.stdout).toContain("status 3");
    expect(result.stdout + result.stderr).toContain("the install step's Node.js exited with status 3 before execpack ran [internal.crashed]");
    expect(result.stdout + result.stderr).toContain("The Node.js is bash: if the build said it uses a Node.js found on PATH");
  });

  it("says a signal killed the step", () => {
    const result = run("kill -ABRT $$");
    expect(result.stdout).toContain("status 134");
    expect(result.stdout + result.stderr).toContain("the install step died with signal ABRT (status 134) [internal.crashed]");
  });
});
