/**
 * The child side of BINARY_FETCH=boot (boot-fetch.ts runs it as its own Node.js process): download and install
 * the release into this boot's own directory, check that the binary can start here, and report the manifest
 * as one JSON line on stdout. Everything heavy (undici, the archive readers) loads in this process only, and
 * anything that goes wrong in it, up to a crash of the process, leaves the booting process untouched.
 */
import { writeSync } from "node:fs";
import { escapeControl } from "../common/output.js";
import { join } from "node:path";
import { readBinarySettings } from "../common/config.js";
import { assertExecutable } from "../archive/runnable.js";
import { installRelease } from "../install/install.js";
import { binaryPath } from "../install/slug.js";
import type { InstallManifest } from "../install/slug.js";
import { bootFetchPaths } from "./boot-fetch.js";

/**
 * Boot-time output goes to stderr: stdout belongs to the binary (and here carries the report). Each line may
 * quote a name from outside (the archive's entry, the URL): escaped, as detail() does in the build log.
 */
function bootLog(line: string): void {
  writeSync(2, `execpack: ${escapeControl(line)}\n`);
}

export interface FetchRequest {
  /** The slug's install root (`.execpack`) and the app directory. */
  root: string;
  appDir: string;
  /** Names this boot's private directories: the PID that will exec the binary. */
  id: string;
  deadline: number;
  /** The release tag the slug was built with (a GitHub release name): the log says `v1.2.0 -> v1.3.0` against it. */
  builtTag?: string | undefined;
}

export async function fetchRelease(request: FetchRequest, configVars: NodeJS.ProcessEnv): Promise<InstallManifest> {
  const settings = readBinarySettings(configVars);
  const target = bootFetchPaths({ appDir: request.appDir, root: request.root }, request.id);
  // No download cache at boot: the dyno's disk is new at every start, so a kept copy could never be reused.
  const manifest = await installRelease({
    settings, paths: target, cacheDir: join(request.root, "boot-cache", request.id), keepCache: false, deadline: request.deadline, log: bootLog, installedTag: request.builtTag,
  });
  assertExecutable(binaryPath(target, manifest)); // A fetched binary that could not start falls back like a failed fetch.
  return manifest;
}
