/**
 * What `execpack [ARGS...]` does at every dyno start: read the dyno's environment as it is now (config vars
 * change and credentials rotate without a rebuild), derive the add-on variables, apply binary.env, then
 * exec the binary in place. A bad config stops here, before the binary starts with wrong values.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExecpackError } from "../common/errors.js";
import { fetchAtBoot } from "./boot-fetch.js";
import { execInPlace } from "./exec.js";
import { resolveEnvironment } from "../environment/environment.js";
import type { ResolvedEnvironment } from "../environment/environment.js";
import { binaryPath, readManifest } from "../install/slug.js";
import type { SlugPaths } from "../install/slug.js";

export const BINARY_ENV_FILE = "binary.env";

/** The launchers set the app's NODE_* variables aside under this prefix while the bootstrapper's Node.js runs. */
export const SET_ASIDE_PREFIX = "EXECPACK_INTERNAL_APP_";

/**
 * The dyno's config vars, from the environment the launcher started Node with: a plain copy (every read of
 * process.env crosses into C++, and the boot reads each variable several times), with the app's NODE_*
 * variables back under their own names after the launcher kept them away from the bootstrapper's Node.js.
 */
export function dynoConfigVars(processEnv: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const vars = { ...processEnv };
  for (const name of Object.keys(vars)) {
    if (!name.startsWith(SET_ASIDE_PREFIX)) continue;
    vars[name.slice(SET_ASIDE_PREFIX.length)] = vars[name];
    delete vars[name];
  }
  return vars;
}

/** binary.env at the app root, if the app has one. */
export function readBinaryEnv(appDir: string): { text: string; path: string } | undefined {
  const path = join(appDir, BINARY_ENV_FILE);
  try {
    return { text: readFileSync(path, "utf8"), path: BINARY_ENV_FILE };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ExecpackError("env.binary-env-unreadable", "binary.env exists but cannot be read", {
      seen: [`file: ${path}`],
      hint: "Check the file's permissions in the repository.",
      cause,
    });
  }
}

export function bootEnvironment(paths: SlugPaths, configVars: NodeJS.ProcessEnv): ResolvedEnvironment {
  return resolveEnvironment({ configVars, binaryEnv: readBinaryEnv(paths.appDir), trackSecrets: false });
}

/**
 * The BINARY_FETCH config var as it is now decides, not as it was at build time: config vars change without a
 * rebuild. Anything but unset or "build" goes to the boot-time fetch, which validates it and falls back.
 */
function fetchesAtBoot(configVars: NodeJS.ProcessEnv): boolean {
  const mode = configVars.BINARY_FETCH?.trim().toLowerCase() ?? "";
  return mode !== "" && mode !== "build";
}

export async function boot(paths: SlugPaths, args: readonly string[], configVars: NodeJS.ProcessEnv): Promise<never> {
  const manifest = readManifest(paths);
  let file = binaryPath(paths, manifest);
  let argv0 = manifest.name;
  if (fetchesAtBoot(configVars)) {
    // The download stack runs in a child process (boot-fetch.ts): this process never loads it.
    const fetched = fetchAtBoot(paths, manifest, configVars);
    file = fetched.file;
    argv0 = fetched.manifest.name;
  }
  const resolved = bootEnvironment(paths, configVars);
  return execInPlace(file, argv0, args, resolved.env);
}
