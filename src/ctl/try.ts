/**
 * `execpackctl try [APP_DIR]`: build and boot an app directory locally the way Heroku would, so a deploy can
 * be tested before pushing. Config vars come from the app's `.env` (or --env-file); the build runs this
 * checkout's real bin/detect, bin/compile and bin/release; the slug is moved; the process type's command
 * (the Procfile's, else bin/release's default) starts in a clean environment with .profile.d sourced.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "dotenv";
import { ExecpackError } from "../common/errors.js";
import { buildApp, makeStackPath, nodeOnPath, processCommand, startDyno } from "./local-heroku.js";
import { step } from "../common/output.js";
import { waitForBind } from "./smoke.js";

export interface TryOptions {
  buildpackDir: string;
  appDir: string;
  envFile?: string;
  /** Config vars on top of the env file's (the demo adds BINARY_URL this way). */
  extraConfigVars?: Readonly<Record<string, string>>;
  processType?: string;
  port?: number;
  stdio?: "pipe" | "inherit";
  /** Start the command with bash's `exec` (the demo shows the dyno's PID becoming the binary's). */
  execCommand?: boolean;
}

export interface TryRun {
  dyno: ChildProcess;
  slugDir: string;
  command: string;
  processType: string;
  port: number;
  /** Removes the scratch build directories. */
  cleanup(): void;
}

export function readEnvFile(file: string): Record<string, string> {
  try {
    return parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ExecpackError("ctl.env-file-unreadable", "The file of config vars cannot be read", {
      seen: [`file: ${file}`],
      hint: "Write the app's config vars as NAME=value lines into .env in the app directory, or pass --env-file FILE.",
      cause,
    });
  }
}

function configVarsFor(options: TryOptions): Record<string, string> {
  const envFile = options.envFile ?? join(options.appDir, ".env");
  const read = options.envFile !== undefined || existsSync(envFile);
  const configVars = { ...(read ? readEnvFile(envFile) : {}), ...options.extraConfigVars };
  if (!configVars.BINARY_URL?.trim()) throw missingBinaryUrl(envFile, read);
  return configVars;
}

/** Said before the build, in terms of the file try reads: the compile's own hint speaks of `heroku config:set`. */
function missingBinaryUrl(envFile: string, read: boolean): ExecpackError {
  return new ExecpackError("config.missing-binary-url", "BINARY_URL is not set", {
    seen: [read ? `config vars read from: ${envFile}` : `config vars: none (no file ${envFile})`],
    hint:
      `execpackctl try reads the app's config vars from ${envFile} (or --env-file FILE). Add a line to it, for example:\n` +
      "  BINARY_URL=https://github.com/OWNER/REPO/releases/download/v1.0.0/app_linux_amd64.tar.gz",
  });
}

/** npm settings of the caller (registry, cache, offline) reach the compile's npm, as on a developer machine. */
function npmSettings(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => name.toLowerCase().startsWith("npm_config_")));
}

export async function tryApp(options: TryOptions): Promise<TryRun> {
  const appDir = resolve(options.appDir);
  if (!existsSync(appDir)) {
    throw new ExecpackError("ctl.app-not-found", "The app directory does not exist", { seen: [`directory: ${appDir}`], hint: "Pass the directory that holds the app's Procfile and binary.env." });
  }
  const configVars = configVarsFor({ ...options, appDir });
  const workDir = mkdtempSync(join(tmpdir(), "execpack-try-"));
  const cleanup = () => rmSync(workDir, { recursive: true, force: true });
  // Ctrl-C during the build: the build's processes get it too and end; the folder (the config vars are files in
  // it, passwords included) goes once they have, rather than half-way while they still write into it.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted ??= signal;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
  const stopListening = () => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(signal, onSignal);
  };
  try {
    step(`Building ${appDir} as Heroku would (in ${workDir})`);
    const path = makeStackPath(workDir);
    const build = await buildApp({
      buildpackDir: options.buildpackDir,
      appDir,
      workDir,
      configVars,
      buildEnv: { ...npmSettings(), PATH: `${nodeOnPath(workDir)}:${path}`, HOME: join(workDir, "home"), STACK: "heroku-24" },
      onOutput: (chunk) => process.stdout.write(chunk),
    });
    stopListening();
    if (interrupted !== undefined) {
      throw new ExecpackError("ctl.interrupted", `Stopped by ${interrupted} during the build`, { seen: [`removed: ${workDir}`], hint: "Nothing was started." });
    }
    if (!build.slugDir || !build.release) {
      throw new ExecpackError("ctl.build-failed", "The build failed", { hint: "The build output above says why." });
    }
    const processType = options.processType ?? "web";
    const command = processCommand(build.slugDir, build.release.stdout, processType);
    if (!command) {
      throw new ExecpackError("ctl.no-process", `The app defines no '${processType}' process`, { hint: "Add it to the Procfile, or pass --process with one that exists." });
    }
    const port = options.port ?? 5000;
    step(`Slug moved to ${build.slugDir}; starting ${processType}: ${command} (PORT=${port})`);
    const dyno = startDyno({
      slugDir: build.slugDir,
      command,
      configVars,
      dyno: `${processType}.1`,
      path,
      port,
      stdio: options.stdio ?? "inherit",
      execCommand: options.execCommand,
    });
    return { dyno, slugDir: build.slugDir, command, processType, port, cleanup };
  } catch (error) {
    stopListening();
    cleanup();
    throw error;
  }
}

/**
 * On Heroku a web process that ends by itself, even with status 0, is a crash: the dyno restarts it, and the
 * app answers nothing meanwhile. try says so instead of ending as quietly as a success.
 */
export function webExitedWarning(status: number): string {
  return `The web process exited by itself with status ${status}. On Heroku that is a crash ("State changed from up to crashed"): a web process must keep running and answer on $PORT. Check the Procfile's web command and the binary's arguments.`;
}

/** Heroku's boot timeout: a web process that has not bound $PORT this long after its start is stopped (R10). */
export const BOOT_TIMEOUT_SECONDS = 60;

/**
 * Watches a web process the way Heroku's router does at boot: true once something accepts connections on its
 * port, false when the boot timeout passed first (Heroku would stop the dyno with R10), undefined when the
 * process ended before either.
 */
export async function watchWebBoot(run: Pick<TryRun, "dyno" | "port">, timeoutMs: number): Promise<boolean | undefined> {
  let ended = run.dyno.exitCode !== null || run.dyno.signalCode !== null;
  run.dyno.once("exit", () => (ended = true));
  if (await waitForBind(run.port, timeoutMs, () => ended)) return true;
  return ended ? undefined : false;
}

export function bootTimeoutWarning(port: number, seconds: number): string {
  return `The web process has not bound PORT=${port} within ${seconds} s. On Heroku the dyno would be stopped now: "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 60 seconds of launch". Make the binary listen on $PORT (a flag or a binary.env line such as LISTEN=0.0.0.0:\${PORT}).`;
}
