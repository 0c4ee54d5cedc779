/**
 * lib/nodejs.sh, function by function, in bash as bin/compile sources it: which Node.js on PATH is good enough
 * to copy into the slug (the floor is Node.js 22.19, undici 8's, with process.execve), and the pinned release
 * kept in the build cache: reused after a local check, without the network; dropped and fetched again when the
 * check fails.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { nodeMirror, pinnedNodeVersion } from "../e2e/helpers/node-mirror.js";
import { elfHeader } from "../helpers/elf-binary.js";
import { serveDirectory } from "../helpers/static-server.js";
import { runScript } from "../../src/ctl/local-heroku.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "execpack-nodejs-sh-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** toEqual on 100 MB of Buffer takes minutes; digests compare at once. */
function digest(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

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

describe("nodejs::probe", () => {
  /**
   * An ELF `node` built by this machine's cc: it answers `--version` with `version`, and fails at anything else.
   * `size` pads it (a sparse tail, which costs no disk) to look like Node.js itself, some 100 MB; unpadded it is
   * the size of a version manager's launcher.
   */
  function versionOnlyElf(version: string, size?: number): string {
    const source = join(work, `version-only-${version}.c`);
    const node = join(work, `version-only-${version}-${size ?? "small"}`);
    writeFileSync(source, `#include <stdio.h>\n#include <string.h>\nint main(int c, char **v) { if (c == 2 && !strcmp(v[1], "--version")) { puts("${version}"); return 0; } return 3; }\n`);
    execFileSync("cc", ["-o", node, source]);
    if (size !== undefined) truncateSync(node, size);
    return node;
  }
  const NODE_SIZE = 100 * 1024 * 1024;
  const probe = (node: string) => nodejsSh(`nodejs::probe ${JSON.stringify(node)}`);

  it("asks a Node.js executable only --version, and reads its architecture from its ELF header: no V8 start", () => {
    for (const version of ["v24.1.0", "v23.11.0", "v22.19.0"]) {
      const node = versionOnlyElf(version, NODE_SIZE);
      expect(probe(node).stdout).toBe(`${process.arch} ${version} ${node}\n`);
    }
  });

  it("passes over versions without undici 8's floor or process.execve: 22.18, 23.0-23.10, 20", () => {
    for (const version of ["v22.18.1", "v23.0.0", "v23.10.0", "v20.19.0"]) expect(probe(versionOnlyElf(version, NODE_SIZE)).status, version).toBe(1);
  });

  it("starts a node that is not a Node.js executable (a shim script, a small launcher) and asks it where it really is", () => {
    // A script shim that execs this Node.js: the executable to copy is this Node.js, not the script.
    expect(probe(fakeNode("24.21.0", true)).stdout).toBe(`${process.arch} v${process.versions.node} ${process.execPath}\n`);
    expect(probe(fakeNode("24.21.0", false)).status).toBe(1);
    // A small ELF launcher that answers --version but cannot run JavaScript is asked, and fails.
    expect(probe(versionOnlyElf("v24.1.0")).status).toBe(1);
  });

  it("passes over a node for an architecture no dyno has (a 32-bit node on this machine), without an error line", () => {
    const shim = join(work, "ia32-node");
    writeFileSync(join(work, "ia32-arch.cjs"), 'Object.defineProperty(process, "arch", { value: "ia32" });');
    writeFileSync(shim, `#!/bin/bash\nexec ${JSON.stringify(process.execPath)} --require ${JSON.stringify(join(work, "ia32-arch.cjs"))} "$@"\n`, { mode: 0o755 });
    const result = probe(shim);
    expect([result.status, result.stdout]).toEqual([1, ""]);
    expect(result.stderr).not.toContain("unsupported-architecture");
  });

  it("passes over a node whose executable is not Node.js itself (linked to a shared libnode)", () => {
    // This Node.js, claiming to be a small executable: a copy of the script shim whose execPath is tiny.
    const small = join(work, "small-node-shim");
    writeFileSync(small, `#!/bin/bash\nexec ${JSON.stringify(process.execPath)} --require ${JSON.stringify(join(work, "small-exec-path.cjs"))} "$@"\n`, { mode: 0o755 });
    writeFileSync(join(work, "small-exec-path.cjs"), `Object.defineProperty(process, "execPath", { value: ${JSON.stringify(small)} });`);
    expect(probe(small).status).toBe(1);
  });

  it.each([
    [{ machine: "x86_64" }, "x64"],
    [{ machine: "aarch64" }, "arm64"],
    [{ machine: "x86_64", class: 32 as const }, undefined],
    [{ machine: "aarch64", endianness: "big" as const }, undefined],
    [{ machine: "riscv" }, undefined],
  ])("nodejs::elf_arch of %o → %s", (spec, arch) => {
    const file = join(work, `header-${JSON.stringify(spec).replace(/\W/g, "")}`);
    writeFileSync(file, elfHeader(spec));
    const result = nodejsSh(`nodejs::elf_arch ${JSON.stringify(file)}`);
    expect([result.status, result.stdout]).toEqual(arch ? [0, `${arch}\n`] : [1, ""]);
  });
});

describe("nodejs::install_pinned", () => {
  it("downloads and verifies once, then reuses the cached node with no request; a damaged one is fetched again", async () => {
    const mirror = await serveDirectory(nodeMirror());
    const cache = join(work, "node-cache");
    const version = pinnedNodeVersion();
    const kept = join(cache, `node-v${version}-linux-x64`);
    // Asynchronous: the mirror answers from this process, which must keep running while bash waits on curl.
    const install = (target: string) =>
      runScript("bash", ["-c", `set -euo pipefail; source lib/output.sh; source lib/nodejs.sh; nodejs::install_pinned ${JSON.stringify(target)} ${JSON.stringify(cache)} ${JSON.stringify(mirror.url)}`], { PATH: process.env.PATH }, undefined, REPO);
    try {
      const first = await install(join(work, "slug-1"));
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toContain(`Downloading Node.js v${version} (linux-x64)`);
      expect(mirror.requests).toEqual([`/v${version}/SHASUMS256.txt`, `/v${version}/node-v${version}-linux-x64.tar.gz`]);
      expect(digest(join(work, "slug-1/bin/node"))).toBe(digest(process.execPath));
      expect(existsSync(join(kept, "lib"))).toBe(false); // bin/node alone was unpacked

      // Unchanged since the check (size and time as stamped): reused without hashing it again.
      const second = await install(join(work, "slug-2"));
      expect(second.status, second.stderr).toBe(0);
      expect(second.stdout).toContain(`Using cached Node.js v${version} (linux-x64), unchanged since its SHA-256 was checked`);
      expect(mirror.requests).toHaveLength(2);

      // A stamp that no longer fits (a cache restored with other times) sends it through the full check once.
      utimesSync(join(kept, "bin/node"), new Date(2020, 0, 1), new Date(2020, 0, 1));
      const restored = await install(join(work, "slug-restored"));
      expect(restored.stdout).toContain(`Using cached Node.js v${version} (linux-x64), checked against its recorded SHA-256`);
      expect((await install(join(work, "slug-restamped"))).stdout).toContain("unchanged since its SHA-256 was checked");
      expect(mirror.requests).toHaveLength(2);

      appendFileSync(join(kept, "bin/node"), "bit rot");
      const third = await install(join(work, "slug-3"));
      expect(third.status, third.stderr).toBe(0);
      expect(third.stdout).toContain("does not match its recorded SHA-256; downloading it again");
      expect(mirror.requests).toHaveLength(4);
      expect(digest(join(work, "slug-3/bin/node"))).toBe(digest(process.execPath));
    } finally {
      await mirror.close();
    }
  });
});

describe("nodejs::provision", () => {
  it("copies the Node.js a version manager's shim on PATH runs, not the shim", async () => {
    const bin = join(work, "shim-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "node"), `#!/bin/bash\nexec ${JSON.stringify(process.execPath)} "$@"\n`, { mode: 0o755 });
    const target = join(work, "provisioned-from-shim");
    const script = `set -euo pipefail; source lib/output.sh; source lib/nodejs.sh; nodejs::provision ${JSON.stringify(target)} ${JSON.stringify(join(work, "unused-cache"))} http://127.0.0.1:9`;
    const result = await runScript("bash", ["-c", script], { PATH: `${bin}:${process.env.PATH}` }, undefined, REPO);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Using Node.js v${process.versions.node} found on PATH`);
    expect(digest(join(target, "bin/node"))).toBe(digest(process.execPath));
  });

  it("says why a Node.js on PATH is passed over, naming its version, then uses the pinned one", async () => {
    const mirror = await serveDirectory(nodeMirror());
    const bin = join(work, "old-node-bin");
    mkdirSync(bin, { recursive: true });
    // heroku/nodejs's Node.js 20 ran first: it answers --version and cannot run the probe.
    writeFileSync(join(bin, "node"), '#!/bin/bash\n[[ "$1" == --version ]] && { echo v20.19.0; exit 0; }\nexit 1\n', { mode: 0o755 });
    try {
      const target = join(work, "provisioned");
      const script = `set -euo pipefail; source lib/output.sh; source lib/nodejs.sh; nodejs::provision ${JSON.stringify(target)} ${JSON.stringify(join(work, "node-cache"))} ${JSON.stringify(mirror.url)}`;
      const result = await runScript("bash", ["-c", script], { PATH: `${bin}:${process.env.PATH}` }, undefined, REPO);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain(`Node.js v20.19.0 on PATH is older than 22.19, lacks process.execve, or is not a standalone x64 or arm64 executable: using the pinned v${pinnedNodeVersion()}`);
      expect(digest(join(target, "bin/node"))).toBe(digest(process.execPath));
    } finally {
      await mirror.close();
    }
  });
});
