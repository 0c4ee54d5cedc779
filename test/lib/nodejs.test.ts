/**
 * lib/nodejs.sh, function by function, in bash as bin/compile sources it: which Node.js on PATH is good enough
 * to copy into the slug (the floor is Node.js 22.19, undici 8's, with process.execve).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "execpack-nodejs-sh-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `body` in bash with lib/output.sh and lib/nodejs.sh sourced. */
function nodejsSh(body: string, env: NodeJS.ProcessEnv = {}) {
  const script = `set -euo pipefail; source lib/output.sh; source lib/nodejs.sh; ${body}`;
  return spawnSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
}

/** A `node` that is this Node.js claiming another version, with or without process.execve. */
function fakeNode(version: string, execve: boolean): string {
  const shim = join(work, `shim-${version}-${execve}.cjs`);
  writeFileSync(shim, [
    `Object.defineProperty(process, "versions", { value: { ...process.versions, node: ${JSON.stringify(version)} } });`,
    execve ? "" : "delete process.execve;",
  ].join("\n"));
  const node = join(work, `node-${version}-${execve}`);
  writeFileSync(node, `#!/bin/bash\nexec ${JSON.stringify(process.execPath)} --require ${JSON.stringify(shim)} "$@"\n`, { mode: 0o755 });
  return node;
}

describe("nodejs::is_capable", () => {
  it.each([
    ["20.19.0", true, false],
    ["22.15.0", true, false],
    ["22.18.1", true, false],
    ["22.19.0", true, true],
    ["23.11.0", true, true],
    ["24.21.0", true, true],
    ["24.21.0", false, false],
  ])("Node.js %s (process.execve: %s) → %s", (version, execve, capable) => {
    expect(nodejsSh(`nodejs::is_capable ${JSON.stringify(fakeNode(version, execve))}`).status).toBe(capable ? 0 : 1);
  });
});
