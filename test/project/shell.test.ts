/** The shell half of the buildpack is linted like the rest: shellcheck clean, each disabled check with its reason. */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const scripts = [
  ...readdirSync(join(REPO, "bin")).map((name) => `bin/${name}`),
  ...readdirSync(join(REPO, "lib")).filter((name) => name.endsWith(".sh")).map((name) => `lib/${name}`),
  ...readdirSync(join(REPO, "launchers")).filter((name) => !name.endsWith(".awk")).map((name) => `launchers/${name}`), // awk is not shell
  ".ci/run",
];
const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;

describe("shell scripts", () => {
  it.skipIf(!hasShellcheck)("are shellcheck clean (skipped only where shellcheck is not installed; .ci/run installs it)", () => {
    const result = spawnSync("shellcheck", ["-x", ...scripts], { cwd: REPO, encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.each(scripts)("%s gives a reason for every disabled check", (script) => {
    const disables = readFileSync(join(REPO, script), "utf8").split("\n").filter((line) => line.includes("shellcheck disable="));
    for (const line of disables) expect(line).toMatch(/disable=SC\d+(,SC\d+)* # \S/);
  });

  it.each(scripts.filter((script) => script.startsWith("bin/")))("%s opens with its usage line and strict mode", (script) => {
    const text = readFileSync(join(REPO, script), "utf8");
    expect(text).toMatch(/^#!\/usr\/bin\/env bash\n# Usage: bin\//);
    expect(text).toContain("set -euo pipefail\nshopt -s inherit_errexit\n");
    expect(execFileSync("bash", ["-n", join(REPO, script)], { encoding: "utf8" })).toBe("");
  });
});
