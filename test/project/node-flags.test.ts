/**
 * One list of Node.js flags for every process that downloads and extracts a release, kept in two places: bash
 * (lib/bootstrapper.sh, for bin/compile's and bin/build's install step and the boot-time fetch's warm-up) and
 * TypeScript (src/install/node-flags.ts, for the boot-time fetch's process). V8 refuses a code cache made under
 * other flags, so the two must not drift. And the slug's Node.js must accept every one of them.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { INSTALL_NODE_FLAGS } from "../../src/install/node-flags.js";
import { pinnedNodeVersion } from "../e2e/helpers/node-mirror.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

describe("the install step's Node.js flags", () => {
  it("are the same in lib/bootstrapper.sh and src/install/node-flags.ts", () => {
    const script = 'source lib/bootstrapper.sh && printf "%s\\n" "${BOOTSTRAPPER_INSTALL_NODE_FLAGS[@]}"';
    const bash = execFileSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8" }).split("\n").filter(Boolean);
    expect(bash).toEqual([...INSTALL_NODE_FLAGS]);
  });

  it("are accepted by this Node.js, the pinned release's version", () => {
    expect(process.versions.node).toBe(pinnedNodeVersion());
    expect(execFileSync(process.execPath, [...INSTALL_NODE_FLAGS, "-p", "typeof gc"], { encoding: "utf8" }).trim()).toBe("function");
  });
});
