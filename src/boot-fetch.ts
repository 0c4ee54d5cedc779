/**
 * BINARY_FETCH=boot: download the release at every dyno start, as the original Go bootstrapper did.
 * The fetch must end in time for the binary to bind $PORT within Heroku's 60 seconds, so it runs under a
 * deadline (BINARY_FETCH_TIMEOUT seconds, default 30). When it fails and the slug holds the binary from
 * build time, that one boots with a warning; otherwise the boot fails clearly.
 */
import { existsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { readBinarySettings } from "./config.js";
import { ExecpackError, isExecpackError } from "./errors.js";
import { installRelease } from "./install.js";
import { formatError, warn } from "./output.js";
import { binaryPath } from "./slug.js";
import type { InstallManifest, SlugPaths } from "./slug.js";


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

export async function fetchAtBoot(
  paths: SlugPaths,
  buildManifest: InstallManifest,
  configVars: NodeJS.ProcessEnv,
): Promise<InstallManifest> {
  const settings = readBinarySettings(configVars);
  const deadline = Date.now() + readTimeoutSeconds(configVars.BINARY_FETCH_TIMEOUT) * 1000;
  try {
    return await installRelease({ settings, paths, cacheDir: join(paths.root, "boot-cache"), deadline, log: bootLog });
  } catch (error) {
    if (!isExecpackError(error) || !existsSync(binaryPath(paths, buildManifest))) throw error;
    warn(`${formatError(error)}\n\nBooting the binary installed at build time instead (sha256 ${buildManifest.sha256}).`);
    return buildManifest;
  }
}
