/**
 * What every start on a dyno reads the same way, whether Node.js execs the binary (boot.ts) or the profile
 * step prepares the launcher's exec (profile.ts): the dyno's variables, binary.env, which program runs, and
 * where its release and libraries are. Kept apart from boot.ts so the profile step's bundle loads none of the
 * exec or boot-time fetch code.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExecpackError } from "../common/errors.js";
import type { InstallManifest } from "../install/slug.js";
import { withoutProfileDerived } from "./profile-record.js";

export const BINARY_ENV_FILE = "binary.env";

/** The launchers set the app's NODE_* variables aside under this prefix while the bootstrapper's Node.js runs. */
export const SET_ASIDE_PREFIX = "EXECPACK_INTERNAL_APP_";

/** Set by the launcher when it runs as .execpack/commands/<name>: the release's program of that name. */
export const COMMAND_VARIABLE = "EXECPACK_INTERNAL_COMMAND";

/**
 * The dyno's config vars, from the environment the launcher started Node with: a plain copy (every read of
 * process.env crosses into C++, and the boot reads each variable several times), with the app's NODE_*
 * variables back under their own names after the launcher kept them away from the bootstrapper's Node.js,
 * and without what the profile step derived into the shell (profile-record.ts, withoutProfileDerived).
 */
export function dynoConfigVars(processEnv: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const vars = { ...processEnv };
  for (const name of Object.keys(vars)) {
    if (!name.startsWith(SET_ASIDE_PREFIX)) continue;
    vars[name.slice(SET_ASIDE_PREFIX.length)] = vars[name];
    delete vars[name];
  }
  return withoutProfileDerived(vars);
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

/**
 * The BINARY_FETCH config var as it is now decides, not as it was at build time: config vars change without a
 * rebuild. Anything but unset or "build" goes to the boot-time fetch, which validates it and falls back.
 */
export function fetchesAtBoot(configVars: Readonly<Record<string, string | undefined>>): boolean {
  const mode = configVars.BINARY_FETCH?.trim().toLowerCase() ?? "";
  return mode !== "" && mode !== "build";
}

/** The release root the binary was installed in: its path minus its path under the root. */
export function releaseRoot(file: string, manifest: InstallManifest): string {
  const relative = manifest.path ?? manifest.name;
  return file.slice(0, file.length - relative.length - 1);
}

/**
 * The release's own library folders, before any the app set: the loader finds what the release vendors
 * (checked at build, archive/libraries.ts). Only the program gets it; the dyno's shell never does.
 */
export function libraryPath(home: string, folders: readonly string[], current: string | undefined): string {
  return [...folders.map((folder) => join(home, folder)), ...(current ? [current] : [])].join(":");
}
