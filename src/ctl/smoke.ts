/**
 * `execpackctl smoke`, which `bin/test` runs on Heroku CI (the Testpack API): a smoke test of the built app
 * with the CI app's config vars and add-ons, before a Deploy button or a promotion puts it on a dyno. It says,
 * as TAP, one test per check so that Heroku CI shows each:
 *   - the release binary is installed and can start on this machine (the boot's own pre-exec checks);
 *   - the config vars and binary.env resolve (every problem `execpackctl check` knows);
 *   - `web`, from the Procfile (or bin/release's `web: execpack`), started by bash as a dyno starts it, binds
 *     $PORT within BINARY_TEST_TIMEOUT seconds (default 60, Heroku's boot timeout), is the release binary
 *     exec'd in place (its PID runs the installed file, not Node.js or a shell), and stops on SIGTERM within
 *     30 seconds (Heroku's grace period before SIGKILL);
 *   - BINARY_TEST_COMMAND, when set (an app without `web` needs it), exits 0.
 * The exit status is the verdict: 0 when every check passed.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readlinkSync, realpathSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { readSmokeTestSettings } from "../common/config.js";
import type { SmokeTestSettings } from "../common/config.js";
import { isExecpackError } from "../common/errors.js";
import { formatError } from "../common/output.js";
import { assertExecutable } from "../archive/runnable.js";
import { binaryPath, readManifest } from "../install/slug.js";
import type { InstallManifest, SlugPaths } from "../install/slug.js";
import { checkApp } from "./inspect.js";
import { processCommand } from "./local-heroku.js";

type ConfigVars = Readonly<Record<string, string | undefined>>;

/** Heroku sends SIGKILL this long after SIGTERM. */
export const STOP_GRACE_MS = 30_000;

/** What bin/release offers an app without a Procfile. */
const DEFAULT_PROCESS_TYPES = "web: execpack";

export interface SmokeOptions {
  paths: SlugPaths;
  /** The config vars (in a CI dyno: the environment, ENV_DIR and .profile.d already applied). */
  configVars: ConfigVars;
  /** The environment the processes start with; PORT is added. */
  processEnv: NodeJS.ProcessEnv;
  /** Where TAP goes, line by line, as the checks finish. */
  write: (text: string) => void;
  /** Where the processes' own output goes (stderr: TAP owns stdout). */
  forward: (text: string) => void;
  stopGraceMs?: number;
}

interface TapResult {
  ok: boolean;
  description: string;
  skip?: string;
  diagnostics?: string;
}

/** One TAP test point, with diagnostics as `#` lines (TAP consumers show them with the test). */
export function tapLine(number: number, result: TapResult): string {
  const status = result.ok || result.skip ? "ok" : "not ok";
  const directive = result.skip ? ` # SKIP ${result.skip}` : "";
  const lines = [`${status} ${number} - ${result.description.replaceAll("#", "\\#")}${directive}`];
  for (const line of (result.diagnostics ?? "").split("\n")) if (line.trim()) lines.push(`# ${line}`);
  return `${lines.join("\n")}\n`;
}

function describeFailure(error: unknown): string {
  if (isExecpackError(error)) return formatError(error);
  throw error;
}

export async function runSmokeTest(options: SmokeOptions): Promise<boolean> {
  let count = 0;
  let allOk = true;
  const report = (result: TapResult) => {
    count += 1;
    if (!result.ok && !result.skip) allOk = false;
    options.write(tapLine(count, result));
  };
  options.write("TAP version 13\n");

  let manifest: InstallManifest | undefined;
  let settings: SmokeTestSettings | undefined;
  try {
    manifest = readManifest(options.paths);
    assertExecutable(binaryPath(options.paths, manifest));
    report({ ok: true, description: `the release binary '${manifest.name}' is installed and can start here`, diagnostics: `entry ${manifest.entry}, sha256 ${manifest.sha256}` });
  } catch (error) {
    manifest = undefined;
    report({ ok: false, description: "the release binary is installed and can start here", diagnostics: describeFailure(error) });
  }

  // The web process gets this $PORT, and binary.env may use it: the check sees the same value.
  const port = await freePort();
  const check = checkApp(options.paths.appDir, { ...options.configVars, PORT: String(port) });
  report({ ok: check.ok, description: "the config vars and binary.env resolve (execpackctl check)", diagnostics: check.text });
  try {
    settings = readSmokeTestSettings(options.configVars);
  } catch (error) {
    report({ ok: false, description: "BINARY_TEST_TIMEOUT is a number of seconds", diagnostics: describeFailure(error) });
  }

  const web = processCommand(options.paths.appDir, DEFAULT_PROCESS_TYPES, "web");
  if (web === undefined && settings?.command === undefined) {
    report({
      ok: false,
      description: "there is something to start: a web process or BINARY_TEST_COMMAND",
      diagnostics: "The Procfile has no `web` process. Name a command that must exit 0 in the test environment's config vars,\n" +
        'e.g. in app.json: "environments": { "test": { "env": { "BINARY_TEST_COMMAND": "execpack --version" } } }',
    });
  }
  const startable = manifest !== undefined && check.ok && settings !== undefined;
  const skip = startable ? undefined : "the checks above failed";
  if (web !== undefined) {
    for (const result of await smokeWeb(web, port, options, settings, manifest, skip)) report(result);
  }
  if (settings?.command !== undefined) report(await smokeCommand(settings.command, port, options, settings, skip));

  options.write(`1..${count}\n`);
  return allOk;
}

/** A TCP port nothing listens on now (the kernel's pick), for $PORT. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls 127.0.0.1:`port` as Heroku's router does while a web dyno boots: true once something accepts a
 * connection, false when `timeoutMs` passed or the process `ended()` first (smoke's check, try's R10 warning).
 */
export async function waitForBind(port: number, timeoutMs: number, ended: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!ended() && Date.now() < deadline) {
    if (await canConnect(port)) return true;
    await sleep(100);
  }
  return false;
}

/** The exit of `child`, or undefined after `ms`; the timer is cleared either way so it never outlives the race. */
async function exitWithin(exited: Promise<[number | null, NodeJS.Signals | null]>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([exited, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A process started the way a dyno starts a Procfile command: `bash -c COMMAND` in the app directory. */
function startProcess(command: string, options: SmokeOptions, port: number, label: string): ChildProcess {
  const env = { ...options.processEnv, PORT: String(port) };
  const child = spawn("bash", ["-c", command], { cwd: options.paths.appDir, env, stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8").on("data", (chunk: string) => options.forward(chunk.replace(/^(?=.)/gm, `${label}: `)));
  }
  return child;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exited with status ${code}`;
}

/** The executable a PID runs now: after execpack's exec, the release binary. */
function runningExecutable(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined; // Gone, or no /proc: the check says what it could not see.
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

async function smokeWeb(
  command: string,
  port: number,
  options: SmokeOptions,
  settings: SmokeTestSettings | undefined,
  manifest: InstallManifest | undefined,
  skip: string | undefined,
): Promise<TapResult[]> {
  const binds = `web: \`${command}\` binds $PORT within ${(settings?.portTimeoutMs ?? 0) / 1000} s`;
  const inPlace = "web: the process bound is the release binary, exec'd in place (same PID)";
  const stops = `web: stops on SIGTERM within ${(options.stopGraceMs ?? STOP_GRACE_MS) / 1000} s`;
  if (skip || !settings || !manifest) return [binds, inPlace, stops].map((description) => ({ ok: false, description, skip }));

  const child = startProcess(command, options, port, "web");
  let exit: [number | null, NodeJS.Signals | null] | undefined;
  const exited = (once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>).then((result) => (exit = result));
  const bound = await waitForBind(port, settings.portTimeoutMs, () => exit !== undefined);
  const results: TapResult[] = [];
  if (!bound) {
    const why = exit ? `it ${describeExit(...exit)} before binding` : `nothing listened on ${port} after ${settings.portTimeoutMs / 1000} s`;
    results.push({ ok: false, description: binds, diagnostics: `PORT=${port}: ${why}. The server must listen on 0.0.0.0:$PORT (binary.env can pass \${PORT}).` });
    results.push({ ok: false, description: inPlace, skip: "it did not bind $PORT" });
  } else {
    results.push({ ok: true, description: binds, diagnostics: `PORT=${port}` });
    const exe = runningExecutable(child.pid!);
    const installed = binaryPath(options.paths, manifest);
    // With BINARY_FETCH=boot the binary fetched at boot runs instead: anything but a shell or Node.js is it.
    const isBinary = exe !== undefined && (sameFile(exe, installed) || (manifest.fetch === "boot" && !/\/(node|bash|sh)$/.test(exe)));
    results.push({ ok: isBinary, description: inPlace, diagnostics: `PID ${child.pid} runs ${exe ?? "(unknown)"}; installed: ${installed}` });
  }
  if (exit) {
    results.push({ ok: false, description: stops, skip: "it was no longer running" });
    return results;
  }
  child.kill("SIGTERM");
  const grace = options.stopGraceMs ?? STOP_GRACE_MS;
  const status = await exitWithin(exited, grace);
  if (!status) {
    child.kill("SIGKILL");
    await exited;
  }
  results.push({ ok: status !== undefined, description: stops, diagnostics: status ? describeExit(...status) : `still running after ${grace / 1000} s: Heroku would SIGKILL it` });
  return results;
}

async function smokeCommand(command: string, port: number, options: SmokeOptions, settings: SmokeTestSettings, skip: string | undefined): Promise<TapResult> {
  const description = `BINARY_TEST_COMMAND \`${command}\` exits 0`;
  if (skip) return { ok: false, description, skip };
  const child = startProcess(command, options, port, "test");
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const finished = await exitWithin(exited, settings.portTimeoutMs);
  if (!finished) {
    child.kill("SIGKILL");
    await exited;
    return { ok: false, description, diagnostics: `still running after ${settings.portTimeoutMs / 1000} s (BINARY_TEST_TIMEOUT)` };
  }
  return { ok: finished[0] === 0, description, diagnostics: describeExit(...finished) };
}
