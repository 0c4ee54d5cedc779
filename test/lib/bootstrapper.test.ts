/**
 * lib/bootstrapper.sh's warm-up of the boot-time fetch's V8 code cache (BINARY_FETCH=boot): made only by a
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
