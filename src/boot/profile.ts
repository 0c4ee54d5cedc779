/**
 * The profile step: `.profile.d/execpack.sh` runs this once per dyno start, before the Procfile command, as
 * heroku-buildpack-jvm-common's .profile.d exports JDBC_DATABASE_URL for every process. It gives the shell the
 * variables derived from add-on URLs (so `web: execpack --db-host $DATABASE_HOST` and `heroku run bash` see
 * them) and, in the same Node.js start, resolves what `execpack` will need (binary.env, the program, its
 * release), so the launcher can exec the binary without starting Node.js a second time.
 *
 * Why this shape and not the launcher calling Node.js as before: the Procfile line is expanded by the dyno's
 * shell before `execpack` runs, so the derived values must exist in that shell, which means Node.js runs from
 * .profile.d. Running it again in the launcher would start Node.js twice per boot; the record written here
 * (profile-record.ts) lets the launcher skip that whenever nothing it depends on changed since.
 *
 * Nothing here may stop a process that is not execpack's: a malformed or placeholder URL gets one line on
 * stderr and derives nothing; a broken binary.env is left for `execpack` itself to report (the record says
 * "slow", and the launcher's Node.js path prints the coded error).
 */
import { join } from "node:path";
import { isExecpackError } from "../common/errors.js";
import { escapeControl } from "../common/output.js";
import { deriveVariables } from "../environment/connection-url.js";
import { externalConfigVars, resolveEnvironment } from "../environment/environment.js";
import { binaryPath, commandsDir, readManifest } from "../install/slug.js";
import type { SlugPaths } from "../install/slug.js";
import { dynoConfigVars, fetchesAtBoot, libraryPath, readBinaryEnv, releaseRoot } from "./dyno.js";
import { writeRecord } from "./profile-record.js";
import type { ProfileRecord } from "./profile-record.js";

/** A name bash can hold and export; the shell checks it again before `export`. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const URL_NAME = /_(URL|URI)$/;
/** What execve accepts on any system (boot/exec.ts, MIN_ARG_SPACE), in UTF-16 units: a cheap, safe bound. */
const SMALLEST_ARG_SPACE = 100_000;

export interface ProfileOutput {
  /** One line each, for stderr: a URL that derived nothing, by its variable's name. */
  warnings: string[];
  record: ProfileRecord;
  /** Whether the record was written; without it the shell exports nothing. */
  written: boolean;
}

/**
 * Resolves once, for the shell and for the launcher, and writes the record to `recordPath`, which the shell
 * that sourced .profile.d chose and exports as PROFILE_VARIABLE for its children (the Procfile command,
 * `heroku run` commands).
 */
export function profile(paths: SlugPaths, processEnv: NodeJS.ProcessEnv, recordPath: string): ProfileOutput {
  const vars = dynoConfigVars(processEnv);
  const config = externalConfigVars(vars);
  const derivation = deriveVariables(config);
  const warnings = derivation.warnings.map((error) => `execpack: ${escapeControl(error.message)}; nothing is derived from it [${error.code}]`);

  // Only what the shell can hold and the record can carry: a name bash cannot export, or a value with a NUL
  // (a password holding %00) stays with execpack's own Node.js path, which gives the binary what it can.
  const derived = new Map<string, string>();
  let fast = !fetchesAtBoot(vars);
  for (const [name, { value }] of derivation.variables) {
    if (SHELL_NAME.test(name) && !value.includes("\0")) derived.set(name, value);
    else fast = false;
  }
  /** What the launcher will find: the config var, else what this step exports. */
  const expected = (name: string): string | undefined => config[name] ?? derived.get(name);

  // Inputs: every connection URL there is (a new or changed one means new derived values), what binary.env read
  // or set, and BINARY_FETCH. Everything else passes through the launcher to the binary unchanged.
  // The launcher counts the *_URL and *_URI names it has (a Procfile prefix may add one) and checks the value of
  // each config var among them; derived ones (DATABASE_JDBC_URL) only count, they pass through as they are.
  const inputs = new Map<string, string | undefined>([["BINARY_FETCH", config.BINARY_FETCH]]);
  let urlCount = 0;
  for (const name of Object.keys(vars)) {
    if (!URL_NAME.test(name) || vars[name] === undefined) continue;
    urlCount += 1;
    if (!SHELL_NAME.test(name)) fast = false; // invisible to the launcher's bash, which could not notice it change
    else if (Object.hasOwn(config, name)) inputs.set(name, config[name]);
  }
  for (const name of derived.keys()) if (URL_NAME.test(name)) urlCount += 1;

  const results = new Map<string, string>();
  const commands = new Map<string, string>();
  let home = "";
  let libraryPrefix = "";
  let main = "";
  try {
    const manifest = readManifest(paths);
    main = binaryPath(paths, manifest);
    home = releaseRoot(main, manifest);
    if (manifest.libraryPath?.length) libraryPrefix = libraryPath(home, manifest.libraryPath, undefined);
    for (const [name, path] of Object.entries(manifest.commands ?? {})) commands.set(name, join(home, path));
    const references = new Set<string>();
    const resolved = resolveEnvironment({ configVars: vars, binaryEnv: readBinaryEnv(paths.appDir), trackSecrets: false, derivation, references });
    for (const name of references) inputs.set(name, expected(name));
    for (const { name, reason } of resolved.skipped) if (reason === "config-var-set") inputs.set(name, expected(name));
    for (const [name, origin] of resolved.origins) {
      if (origin.kind !== "binary.env") continue;
      const value = resolved.env[name] ?? "";
      if (value.includes("\0")) fast = false;
      results.set(name, value);
      inputs.set(name, expected(name));
    }
  } catch (error) {
    // A binary.env error, a missing install: `execpack` reports it with its code when it runs. Only then:
    // a worker that never runs execpack must not see it.
    if (!isExecpackError(error)) throw error;
    fast = false;
  }

  // An environment near what execve accepts goes to the Node.js path, which names the largest variables when it
  // does not fit (boot.environment-too-large), rather than to a failed exec in bash and its message first.
  let bytes = 0;
  for (const [name, value] of Object.entries(vars)) bytes += name.length + (value?.length ?? 0) + 2;
  for (const [name, value] of [...derived, ...results]) bytes += name.length + value.length + 2;
  if (bytes > SMALLEST_ARG_SPACE) fast = false;

  const record: ProfileRecord = { fast, root: paths.root, home, libraryPrefix, main, commandsDir: commandsDir(paths), urlCount, inputs, results, commands, derived };
  return { warnings, record, written: writeRecord(record, recordPath) };
}
