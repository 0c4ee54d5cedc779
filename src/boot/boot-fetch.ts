/**
 * BINARY_FETCH=boot: download the release at every dyno start, as the original Go bootstrapper did.
 * The fetch must end in time for the binary to bind $PORT within Heroku's 60 seconds, so it runs under a
 * deadline (BINARY_FETCH_TIMEOUT seconds, default 30). When it fails and the slug holds the binary from
 * build time, that one boots with a warning; otherwise the boot fails clearly.
 *
 * The fetch runs in a child Node.js process (fetch-release.ts, bundled as boot-fetch.cjs), and this process
 * only waits for its report. Whatever happens in there, an exception nobody catches, an assertion inside a
 * dependency, an abort or a segfault, a hang past the deadline, ends that process and not this one, which
 * then boots the build-time binary. A try/catch here could not promise that: undici 7 threw from a socket
 * handler, where no promise of ours would see it. The price is one Node.js start (some 40 ms) in this mode only.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readBootFetchTimeoutSeconds } from "../common/config.js";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { formatError, warn } from "../common/output.js";
import { REPORT_URL } from "../common/main.js";
import { maskUrl } from "../common/secrets.js";
import { assertExecutable } from "../archive/runnable.js";
import { INSTALL_MALLOC_ARENA_MAX, INSTALL_NODE_FLAGS } from "../install/node-flags.js";
import { binaryPath } from "../install/slug.js";
import { bootScratchRoot } from "./scratch.js";
import type { InstallManifest, SlugPaths } from "../install/slug.js";

/** After the download's deadline the child may still be extracting; past this grace it is killed. */
const EXTRACT_GRACE_MS = 15_000;

/**
 * Where a boot-time fetch installs: under the scratch root (bootScratchRoot), never over the build-time binary,
 * so the fallback is intact whatever happens, and in a directory of its own per booting process (named by the PID that will exec the
 * binary), so two `execpack` started at once in one dyno never share a temporary name.
 */
export function bootFetchPaths(paths: Pick<SlugPaths, "appDir" | "root">, id: string): SlugPaths {
  const dir = join(paths.root, "boot-binary", id);
  return { appDir: paths.appDir, root: paths.root, binaryDir: join(dir, "binary"), manifest: join(dir, "binary.json") };
}

function makeScratchRoot(): string {
  const root = bootScratchRoot();
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new ExecpackError("boot.fetch-dir-unwritable", "The boot-time fetch has no writable directory", {
      seen: [`directory: ${root}`, `error: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`],
      hint: "Set TMPDIR to a writable directory, or use BINARY_FETCH=build so nothing is written at boot.",
      cause,
    });
  }
  return root;
}

export interface BootBinary {
  manifest: InstallManifest;
  file: string;
}

/** What the child reports on stdout, one JSON line: the manifest, or its ExecpackError's fields. */
export type FetchReport = { manifest: InstallManifest } | { error: { code: string; summary: string; seen: string[]; hint?: string } };

/**
 * Downloads and installs the release within the deadline, in a child process. Any failure, a bad config var
 * or a crash of the fetch included, falls back to the build-time binary with a warning when the slug has one:
 * a dyno that can start, starts.
 */
export function fetchAtBoot(paths: SlugPaths, buildManifest: InstallManifest, configVars: NodeJS.ProcessEnv): BootBinary {
  try {
    const deadline = Date.now() + readBootFetchTimeoutSeconds(configVars.BINARY_FETCH_TIMEOUT) * 1000;
    const id = String(process.pid);
    const scratch = { ...paths, root: makeScratchRoot() };
    removeLeftovers(scratch.root);
    const manifest = runFetchProcess(scratch, id, deadline, { ...ownEnvironment(configVars), ...compileCache(paths.root) }, buildManifest.release?.tag);
    const file = binaryPath(bootFetchPaths(scratch, id), manifest);
    assertExecutable(file); // checked again here: this process is the one that execs it
    return { manifest, file };
  } catch (error) {
    const buildTime = binaryPath(paths, buildManifest);
    if (!existsSync(buildTime)) throw error;
    warn(`${describeFailure(error)}\n\nBooting the binary installed at build time instead (sha256 ${buildManifest.sha256}).`);
    return { manifest: buildManifest, file: buildTime };
  }
}

function runFetchProcess(paths: SlugPaths, id: string, deadline: number, env: NodeJS.ProcessEnv, builtTag: string | undefined): InstallManifest {
  const bundle = fileURLToPath(new URL("./boot-fetch.cjs", import.meta.url));
  const args = [...INSTALL_NODE_FLAGS, bundle, paths.root, paths.appDir, id, String(deadline), ...(builtTag ? [builtTag] : [])];
  const child = spawnSync(process.execPath, args, {
    // The child's progress lines go straight to the dyno's stderr; stdout carries only its report.
    stdio: ["ignore", "pipe", "inherit"],
    // The install step's memory settings (its peak is the dyno's, before the binary starts), and its speed:
    // a 60 MiB tar.gz booted 3% sooner with them (bench/boot-fetch.ts, 1.23-1.25x against 1.26-1.29x).
    env: { ...env, MALLOC_ARENA_MAX: INSTALL_MALLOC_ARENA_MAX },
    timeout: Math.max(0, deadline - Date.now()) + EXTRACT_GRACE_MS,
    killSignal: "SIGKILL",
    maxBuffer: 1024 * 1024,
  });
  const report = parseReport(child.stdout?.toString("utf8") ?? "");
  if (child.status === 0 && report && "manifest" in report) return report.manifest;
  if (report && "error" in report) {
    const { code, summary, seen, hint } = report.error;
    throw new ExecpackError(code, summary, { seen, hint });
  }
  const how = child.error && (child.error as NodeJS.ErrnoException).code === "ETIMEDOUT"
    ? `did not finish ${EXTRACT_GRACE_MS / 1000} s after the deadline and was stopped`
    : child.error
      ? `could not start (${(child.error as NodeJS.ErrnoException).code ?? child.error.message})`
      : child.signal
        ? `was killed by ${child.signal}`
        : `exited with status ${child.status}`;
  throw new ExecpackError("internal.crashed", `execpack: internal error: the boot-time fetch ${how}`, {
    hint: `This is a bug in execpack, or the dyno ran out of memory. Please report it with the lines above: ${REPORT_URL}`,
  });
}

/** The app's NODE_* variables (NODE_OPTIONS, NODE_COMPILE_CACHE...) are for its binary, not for execpack's Node.js. */
function ownEnvironment(configVars: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(configVars).filter(([name]) => !name.startsWith("NODE_") && !name.startsWith("EXECPACK_INTERNAL_")));
}

/**
 * V8's code for the fetch's bundle, compiled at build time into the slug (lib/bootstrapper.sh): the child then
 * skips compiling 0.8 MB before its first byte. Only when the build made it; Node.js checks each entry itself.
 */
function compileCache(slugRoot: string): NodeJS.ProcessEnv {
  const dir = join(slugRoot, "compile-cache");
  return existsSync(dir) ? { NODE_COMPILE_CACHE: dir, NODE_COMPILE_CACHE_PORTABLE: "1" } : {};
}

function parseReport(stdout: string): FetchReport | undefined {
  const line = stdout.trim().split("\n").at(-1);
  if (!line) return undefined;
  try {
    return JSON.parse(line) as FetchReport;
  } catch {
    return undefined; // a child that died mid-line reported nothing usable; its status says what happened
  }
}

function describeFailure(error: unknown): string {
  if (isExecpackError(error)) return formatError(error);
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `execpack: internal error while fetching at boot\n${maskUrl(text)}\nThis is a bug in execpack. Please report it with the lines above: ${REPORT_URL}`;
}

/** Directories of earlier boots in this dyno whose process is gone (a restarted process type, a one-off). */
function removeLeftovers(root: string): void {
  for (const base of ["boot-binary", "boot-cache"]) {
    let names: string[] = [];
    try {
      names = readdirSync(join(root, base));
    } catch {
      continue; // none yet
    }
    for (const name of names) {
      if (!/^\d+$/.test(name) || isAlive(Number(name))) continue;
      rmSync(join(root, base, name), { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
