/**
 * What `execpack [ARGS...]` does at every dyno start: read the dyno's environment as it is now (config vars
 * change and credentials rotate without a rebuild), derive the add-on variables, apply binary.env, then
 * exec the binary in place. A bad config stops here, before the binary starts with wrong values.
 */
import { accessSync, constants, mkdirSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ExecpackError } from "../common/errors.js";
import { fetchAtBoot } from "./boot-fetch.js";
import { bootScratchRoot } from "./scratch.js";
import { execInPlace } from "./exec.js";
import { resolveEnvironment } from "../environment/environment.js";
import type { ResolvedEnvironment } from "../environment/environment.js";
import { binaryPath, commandsDir, readManifest } from "../install/slug.js";
import type { InstallManifest, SlugPaths } from "../install/slug.js";
import { COMMAND_VARIABLE, fetchesAtBoot, libraryPath, readBinaryEnv, releaseRoot } from "./dyno.js";

export { BINARY_ENV_FILE, COMMAND_VARIABLE, SET_ASIDE_PREFIX, dynoConfigVars, readBinaryEnv } from "./dyno.js";

export function bootEnvironment(paths: SlugPaths, configVars: NodeJS.ProcessEnv): ResolvedEnvironment {
  return resolveEnvironment({ configVars, binaryEnv: readBinaryEnv(paths.appDir), trackSecrets: false });
}

export async function boot(paths: SlugPaths, args: readonly string[], configVars: NodeJS.ProcessEnv): Promise<never> {
  let manifest = readManifest(paths);
  let file = binaryPath(paths, manifest);
  const atBoot = fetchesAtBoot(configVars);
  if (atBoot) {
    // The download stack runs in a child process (boot-fetch.ts): this process never loads it.
    const fetched = fetchAtBoot(paths, manifest, configVars);
    manifest = fetched.manifest;
    file = fetched.file;
  }
  const home = releaseRoot(file, manifest);
  // The dyno var .profile.d set for the shell (a config var of that name is overridden there), read as such.
  if (atBoot) pointShellHomeAt(configVars["BINARY_HOME"], home);
  const target = programToRun(home, file, manifest, configVars[COMMAND_VARIABLE]);
  const resolved = bootEnvironment(paths, configVars);
  const { env, argv0 } = forTheProgram(target, home, manifest.libraryPath, resolved.env, commandsDir(paths));
  return execInPlace(target, argv0, args, env);
}

/**
 * What the boot sets for the program alone, over the resolved environment: PATH and argv[0] as a shell would
 * run it, BINARY_HOME, and the release's library folders first on LD_LIBRARY_PATH. `execpackctl env` shows the
 * same (ctl/inspect.ts); launchers/execpack's fast path does it in bash: change all three together.
 */
export function forTheProgram(
  file: string,
  home: string,
  libraryFolders: readonly string[] | undefined,
  env: Readonly<Record<string, string>>,
  commands: string,
): { env: Record<string, string>; argv0: string } {
  const shelled = asAShellWouldRun(file, env, commands);
  shelled.env.BINARY_HOME = home;
  if (libraryFolders?.length) shelled.env.LD_LIBRARY_PATH = libraryPath(home, libraryFolders, shelled.env.LD_LIBRARY_PATH);
  return shelled;
}

function programToRun(home: string, binary: string, manifest: InstallManifest, command: string | undefined): string {
  if (command === undefined || command === "") return binary;
  const path = manifest.commands?.[command];
  if (path !== undefined) return join(home, path);
  throw new ExecpackError("boot.command-missing", `The release holds no program named "${command}"`, {
    seen: [`programs: ${Object.keys(manifest.commands ?? { [manifest.name]: "" }).join(", ")}`],
    hint: "The release installed now (BINARY_FETCH=boot may have fetched a newer one) lacks it. Rebuild, or call one it has.",
  });
}

/**
 * PATH and argv[0] as a shell gives them when it runs the program by name: the program's folder is on PATH
 * (where the command launchers were, after the stack's own commands), and argv[0] is the bare name when a PATH
 * lookup of that name finds this very file, else its absolute path. Programs that find themselves through
 * argv[0] and PATH (PostgreSQL's tools, multi-call binaries such as busybox) then find the release's file.
 * launchers/execpack's fast path does the same in bash (with bash's own `hash` as the lookup): change both.
 */
export function asAShellWouldRun(
  file: string,
  env: Readonly<Record<string, string>>,
  commands: string,
): { env: Record<string, string>; argv0: string } {
  const folder = dirname(file);
  const entries = (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":");
  const at = entries.indexOf(commands);
  const path = entries.includes(folder) ? entries : at === -1 ? [...entries, folder] : [...entries.slice(0, at), folder, ...entries.slice(at)];
  const name = basename(file);
  const found = lookUp(name, path);
  return { env: { ...env, PATH: path.join(":") }, argv0: found === file ? name : file };
}

/** The first executable file of this name on PATH, as execvp would find it. */
function lookUp(name: string, path: readonly string[]): string | undefined {
  for (const folder of path) {
    const candidate = join(folder === "" ? "." : folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not there or not executable: the lookup goes on, as the shell's does.
    }
  }
  return undefined;
}

/**
 * With BINARY_FETCH=boot, .profile.d sets the shell's BINARY_HOME before any fetch ran, to a folder named by the
 * shell's PID: the folder this boot fetches into when the shell hands its PID on by exec (`web: execpack`).
 * When it did not (a line of several commands, `execpack migrate && execpack serve`, forks), or the fetch
 * fell back to the build-time release, that name becomes a link to the release that runs, replaced at once
 * (a rename) by each later start, so `$BINARY_HOME` in the Procfile line names what runs: a path expanded
 * before the start is only opened after it. A real folder there is a fetch's own and is left alone.
 */
function pointShellHomeAt(shellHome: string | undefined, home: string): void {
  const folders = join(bootScratchRoot(), "boot-binary");
  if (shellHome === undefined || shellHome === home || basename(shellHome) !== "binary" || dirname(dirname(shellHome)) !== folders) return;
  const link = `${shellHome}.${process.pid}.link`;
  try {
    mkdirSync(dirname(shellHome), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(home, link);
    renameSync(link, shellHome);
  } catch {
    // A fetch's own folder by that name (rename refuses to replace a folder) or an unwritable scratch: the
    // binary's own BINARY_HOME, set below, is right either way.
    try {
      rmSync(link, { force: true });
    } catch {
      // Nothing was made, or the scratch folder went unwritable: nothing to tidy that could be tidied.
    }
  }
}
