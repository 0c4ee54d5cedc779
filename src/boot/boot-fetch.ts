/**
 * BINARY_FETCH=boot: download the release at every dyno start, as the original Go bootstrapper did.
 * The fetch must end in time for the binary to bind $PORT within Heroku's 60 seconds, so it runs under a
 * deadline (BINARY_FETCH_TIMEOUT seconds, default 30). When it fails and the slug holds the binary from
 * build time, that one boots with a warning; otherwise the boot fails clearly.
 */
import { existsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { readBinarySettings } from "../common/config.js";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { assertExecutable } from "../archive/runnable.js";
import { installRelease } from "../install/install.js";
import { formatError, warn } from "../common/output.js";
import { maskUrl } from "../common/secrets.js";
import { binaryPath } from "../install/slug.js";
import type { InstallManifest, SlugPaths } from "../install/slug.js";


export const DEFAULT_BOOT_FETCH_TIMEOUT_SECONDS = 30;

function readTimeoutSeconds(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return DEFAULT_BOOT_FETCH_TIMEOUT_SECONDS;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 55) {
    throw new ExecpackError("config.invalid-fetch-timeout", "BINARY_FETCH_TIMEOUT must be a number of seconds between 1 and 55", {
      seen: [`BINARY_FETCH_TIMEOUT="${value}"`],
      hint: "Heroku stops a web dyno that has not bound $PORT after 60 seconds; leave the binary time to start.",
    });
  }
  return seconds;
}

/** Boot-time output goes to stderr: stdout belongs to the binary. */
function bootLog(line: string): void {
  writeSync(2, `execpack: ${line}\n`);
}

/**
 * Where a boot-time fetch installs: beside the build-time binary, never over it, so the fallback is intact
 * whatever happens, and the switch to the new binary is only ever the exec of its path.
 */
export function bootFetchPaths(paths: SlugPaths): SlugPaths {
  return { ...paths, binaryDir: join(paths.root, "boot-binary"), manifest: join(paths.root, "boot-binary.json") };
}

export interface BootBinary {
  manifest: InstallManifest;
  file: string;
}

function describeFailure(error: unknown): string {
  if (isExecpackError(error)) return formatError(error);
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `execpack: internal error while fetching at boot\n${maskUrl(text)}`;
}

/**
 * Downloads and installs the release within the deadline. Any failure, a bad config var included, falls back
 * to the build-time binary with a warning when the slug has one: a dyno that can start, starts.
 */
export async function fetchAtBoot(paths: SlugPaths, buildManifest: InstallManifest, configVars: NodeJS.ProcessEnv): Promise<BootBinary> {
  const target = bootFetchPaths(paths);
  try {
    const settings = readBinarySettings(configVars);
    const deadline = Date.now() + readTimeoutSeconds(configVars.BINARY_FETCH_TIMEOUT) * 1000;
    // No download cache at boot: the dyno's disk is new at every start, so a kept copy could never be reused.
    const manifest = await installRelease({ settings, paths: target, cacheDir: join(paths.root, "boot-cache"), keepCache: false, deadline, log: bootLog });
    const file = binaryPath(target, manifest);
    assertExecutable(file); // A fetched binary that could not start falls back like a failed fetch.
    return { manifest, file };
  } catch (error) {
    const buildTime = binaryPath(paths, buildManifest);
    if (!existsSync(buildTime)) throw error;
    warn(`${describeFailure(error)}\n\nBooting the binary installed at build time instead (sha256 ${buildManifest.sha256}).`);
    return { manifest: buildManifest, file: buildTime };
  }
}
