/**
 * The exec hand-off in a real Node.js process: after code created process.stdout, stderr and stdin (libuv
 * then makes their pipes non-blocking), the exec'd program still gets fds 0-2 in blocking mode, exactly as
 * after bash's `exec`, and no fd of Node's own. And the E2BIG check agrees with the kernel to the byte.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertFitsExecve } from "../../src/boot/exec.js";
import { ExecpackError } from "../../src/common/errors.js";
import { O_NONBLOCK, parseFdFlags, stdioProbeBinary } from "../helpers/stdio-probe.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const NODE = join(REPO, "node_modules/.bin/node");
const SCRIPT = join(REPO, "test/fixtures/exec-handoff/exec-after-stdout.ts");

/** Runs COMMAND under bash with stdin and stdout real pipes (`:|` and `| cat`), as a dyno's log pipe is. */
function throughPipes(command: string, args: readonly string[]): string {
  const result = spawnSync("bash", ["-c", ': | "$@" | cat', "bash", command, ...args], { encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

/** The fixture bundled as the slug's bootstrapper is (tsx would create process.stdout before our code runs). */
function bundleFixture(dir: string): string {
  const outfile = join(dir, "exec-after-stdout.mjs");
  buildSync({ entryPoints: [SCRIPT], outfile, bundle: true, platform: "node", format: "esm", logLevel: "error" });
  return outfile;
}

describe("exec hand-off of fds 0-2", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "execpack-exec-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the binary blocking pipes and only fds 0-2 after Node made them non-blocking", () => {
    const probe = stdioProbeBinary();
    const viaBash = parseFdFlags(throughPipes("bash", ["-c", 'exec "$@"', "bash", probe, "--fds"]));
    const output = throughPipes(NODE, [bundleFixture(dir), probe, "--fds"]);
    expect(output).toContain("through process.stdout\n");
    const viaExecpack = parseFdFlags(output);
    // Exactly what bash's exec passes on: 0-2 (and whatever the test runner itself inherited), none of Node's own fds.
    expect([...viaExecpack.keys()]).toEqual([...viaBash.keys()]);
    expect([...viaExecpack.keys()].slice(0, 3)).toEqual([0, 1, 2]);
    for (const fd of [0, 1, 2]) {
      expect(viaExecpack.get(fd)! & O_NONBLOCK, `fd ${fd}`).toBe(0);
      expect(viaExecpack.get(fd), `fd ${fd} as after bash's exec`).toBe(viaBash.get(fd));
    }
  });
});

describe("the execve size check", () => {
  const file = "/bin/true";
  /** Whether the kernel execs it: spawnSync reports E2BIG as an error where process.execve would abort. */
  const kernelAccepts = (env: Record<string, string>) => spawnSync(file, [], { env, argv0: "true" }).error === undefined;
  const weAccept = (env: Record<string, string>) => {
    try {
      assertFitsExecve(file, ["true"], env);
      return true;
    } catch (error) {
      if (error instanceof ExecpackError) return false;
      throw error;
    }
  };

  /** The largest Z the predicate accepts next to the other variables (binary search). */
  function largestZ(base: Record<string, string>, accepts: (env: Record<string, string>) => boolean): number {
    let [low, high] = [0, 140_000];
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (accepts({ ...base, Z: "z".repeat(middle) })) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  it.each([
    ["one variable at the 128 KiB string limit", 0, 0],
    ["2000 variables of 1000 bytes, at the total limit", 2000, 1000],
  ])("accepts exactly what the kernel accepts: %s", (_, count, size) => {
    const base = Object.fromEntries(Array.from({ length: count }, (__, i) => [`VAR_${i}`, "x".repeat(size)]));
    const kernel = largestZ(base, kernelAccepts);
    expect(kernel).toBeGreaterThan(0);
    expect(largestZ(base, weAccept)).toBe(kernel);
  });

  it("names the largest variables by name and size, never their values", () => {
    const env: Record<string, string> = { SMALL: "s", TLS_CERT: "c".repeat(140_000) };
    const error = (() => {
      try {
        assertFitsExecve(file, ["true"], env);
      } catch (caught) {
        return caught as ExecpackError;
      }
    })();
    expect(error?.code).toBe("boot.environment-too-large");
    expect(error?.seen.join("\n")).toMatch(/^TLS_CERT: 137 KiB, over the 128 KiB/);
    expect(JSON.stringify(error)).not.toContain("ccc");
  });
});
