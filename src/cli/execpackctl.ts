/**
 * `execpackctl`: the toolbox for people.
 *   execpackctl env   [--app DIR] [--env-file FILE] [--reveal]   the environment the binary would get
 *   execpackctl check [--app DIR] [--env-file FILE]              validate binary.env and every add-on URL
 *   execpackctl try   [APP_DIR] [--env-file FILE] [--port N] [--process TYPE]
 *   execpackctl smoke [--app DIR] [--env-file FILE]              start the built app and check it (TAP; bin/test)
 * In a dyno (`heroku run execpackctl env`) the config vars are the dyno's environment and the app is /app;
 * locally they come from the app directory's .env file (or --env-file) and the app is the current directory.
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { constants as osConstants } from "node:os";
import { dynoConfigVars } from "../boot/boot.js";
import { releaseRoot } from "../boot/dyno.js";
import { checkApp, showEnvironment } from "../ctl/inspect.js";
import type { InstalledProgram } from "../ctl/inspect.js";
import { ExecpackError } from "../common/errors.js";
import { runMain } from "../common/main.js";
import { warn } from "../common/output.js";
import { binaryPath, commandsDir, installedSlugPaths, readManifest, slugPaths } from "../install/slug.js";
import type { InstallManifest } from "../install/slug.js";
import { runSmokeTest } from "../ctl/smoke.js";
import { BOOT_TIMEOUT_SECONDS, bootTimeoutWarning, readEnvFile, tryApp, watchWebBoot, webExitedWarning } from "../ctl/try.js";

const USAGE = `Usage: execpackctl <command> [options]

Commands:
  env [--app DIR] [--env-file FILE] [--reveal]   print the environment the binary would get (secrets masked)
  check [--app DIR] [--env-file FILE]            validate binary.env and every add-on URL
  try [APP_DIR] [--env-file FILE] [--port N] [--process TYPE] [--boot-timeout SECONDS]
                                                 build and boot an app locally the way Heroku would
  smoke [--app DIR] [--env-file FILE]            start the built app's web process (or BINARY_TEST_COMMAND) and
                                                 check it, as TAP: what bin/test runs on Heroku CI`;

/** The install this command runs from (a slug's .execpack/, or the execpack layer on Fir); none locally from src/cli/. */
const installed = installedSlugPaths(import.meta.url);
const inDyno = installed !== undefined;

function usageError(message: string): ExecpackError {
  return new ExecpackError("ctl.usage", message, { hint: USAGE });
}

function configVars(appDir: string, envFile: string | undefined): NodeJS.ProcessEnv {
  if (inDyno && envFile === undefined) return dynoConfigVars(process.env);
  return readEnvFile(envFile ?? join(appDir, ".env"));
}

/** What the slug holds, when there is one: in a dyno, or an app directory that was built in place. */
function installedManifest(appDir: string): InstallManifest | undefined {
  try {
    return readManifest(installed ?? slugPaths(appDir));
  } catch {
    return undefined; // not built yet: env and check still say what they can from the config
  }
}

/** The program `execpack` runs, when the slug holds one: `env` shows what the boot sets for it alone. */
function installedProgram(appDir: string): InstalledProgram | undefined {
  const paths = installed ?? slugPaths(appDir);
  const manifest = installedManifest(appDir);
  if (manifest === undefined) return undefined;
  const file = binaryPath(paths, manifest);
  return { file, home: releaseRoot(file, manifest), libraryPath: manifest.libraryPath ?? [], commandsDir: commandsDir(paths) };
}

const OPTIONS = {
  app: { type: "string" },
  "env-file": { type: "string" },
  reveal: { type: "boolean", default: false },
  port: { type: "string" },
  process: { type: "string" },
  "boot-timeout": { type: "string" },
} as const;

/** Node's parseArgs throws TypeErrors for an unknown option or a stray argument: those are usage errors. */
function parseOptions(command: string | undefined, args: string[]) {
  try {
    return parseArgs({ args, allowPositionals: command === "try", options: OPTIONS });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code.startsWith("ERR_PARSE_ARGS_")) throw usageError((error as Error).message);
    throw error;
  }
}

function parseSeconds(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw usageError(`--${option} must be a whole number of seconds, not '${value}'`);
  return Number(value);
}

/**
 * A relative path given on the command line is the user's, from where they ran `npm run execpackctl`: npm runs
 * the script in the package's folder and names the caller's in INIT_CWD.
 */
function fromCaller(path: string): string {
  return resolve(process.env.INIT_CWD ?? ".", path);
}

function parsePort(port: string | undefined): number | undefined {
  if (port === undefined) return undefined;
  const value = Number(port);
  if (!/^\d+$/.test(port) || value < 1 || value > 65535) throw usageError(`--port must be a port number from 1 to 65535, not '${port}'`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseOptions(command, rest);
  const appDir = values.app !== undefined ? fromCaller(values.app) : resolve(installed?.appDir ?? fromCaller("."));
  const envFile = values["env-file"] === undefined ? undefined : fromCaller(values["env-file"]);
  switch (command) {
    case "env":
      process.stdout.write(showEnvironment(appDir, configVars(appDir, envFile), { reveal: values.reveal ?? false, installed: installedManifest(appDir), program: installedProgram(appDir) }));
      return 0;
    case "check": {
      const report = checkApp(appDir, configVars(appDir, envFile), installedManifest(appDir));
      process.stdout.write(report.text);
      return report.ok ? 0 : 1;
    }
    case "smoke":
      return runSmoke(appDir, envFile);
    case "try":
      return runTry(fromCaller(positionals[0] ?? "."), envFile, values.port, values.process, parseSeconds("boot-timeout", values["boot-timeout"], BOOT_TIMEOUT_SECONDS));
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw usageError(`Unknown command '${command}'`);
  }
}

async function runSmoke(appDir: string, envFile: string | undefined): Promise<number> {
  // The install this command runs from (on Fir, a layer outside the app), unless another app directory was named.
  const paths = installed && installed.appDir === appDir ? installed : slugPaths(appDir);
  const vars = configVars(appDir, envFile);
  // Should the event loop ever drain before the verdict (a bug), Node's exit must not read as a pass.
  process.exitCode = 1;
  const processEnv: NodeJS.ProcessEnv = { ...process.env, ...vars };
  delete processEnv.EXECPACK_INTERNAL_NODE_OPTIONS;
  // `execpack` must be found as on a dyno, where .profile.d (or the CNB launcher) put the install on PATH.
  processEnv.PATH = [join(paths.root, "bin"), processEnv.PATH].filter(Boolean).join(":");
  const passed = await runSmokeTest({
    paths,
    configVars: vars,
    processEnv,
    write: (text) => process.stdout.write(text),
    forward: (text) => process.stderr.write(text),
  });
  return passed ? 0 : 1;
}

async function runTry(appDir: string, envFile: string | undefined, port: string | undefined, processType: string | undefined, bootTimeoutSeconds: number): Promise<number> {
  if (inDyno) throw usageError("'execpackctl try' builds an app locally; run it from a checkout of the buildpack, not in a dyno");
  const run = await tryApp({
    buildpackDir: fileURLToPath(new URL("../..", import.meta.url)),
    appDir,
    envFile,
    port: parsePort(port),
    processType,
  });
  let stopped = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      stopped = true;
      run.dyno.kill(signal);
    });
  }
  if (run.processType === "web") {
    void watchWebBoot(run, bootTimeoutSeconds * 1000).then((bound) => {
      if (bound === false) warn(bootTimeoutWarning(run.port, bootTimeoutSeconds));
    });
  }
  const status = await new Promise<number>((resolveStatus) =>
    run.dyno.on("exit", (code, signal) => resolveStatus(code ?? (signal ? 128 + osConstants.signals[signal] : 1))),
  );
  run.cleanup();
  if (!stopped && run.processType === "web") warn(webExitedWarning(status));
  return status;
}

void runMain(() => main(process.argv.slice(2)));
