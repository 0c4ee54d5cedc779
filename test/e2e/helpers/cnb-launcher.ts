/**
 * A small stand-in for the CNB launcher (the ENTRYPOINT of an image built by the lifecycle, buildpack API
 * 0.10), faithful in what execpack depends on:
 *   - every launch layer's bin/ goes on PATH and lib/ on LD_LIBRARY_PATH: buildpacks in reverse group order,
 *     a buildpack's layers in ascending name order, all before the image's own value;
 *   - then each layer's env/, env.launch/ and env.launch/<process>/ files modify variables, buildpacks in group
 *     order and layers ascending: <NAME> and <NAME>.override set, <NAME>.default sets only an empty variable,
 *     <NAME>.append and <NAME>.prepend join with the layer's <NAME>.delim (nothing without one); file contents
 *     are taken as they are;
 *   - then every executable in every layer's exec.d/, then in every layer's exec.d/<process>/ (each pass:
 *     buildpacks in group order, layers ascending, files ascending) runs with the environment so far, stdin closed, its stdout and stderr
 *     the process's, and fd 3 a pipe; it must exit 0 (else the launcher fails and nothing starts), and what it
 *     wrote to fd 3 is TOML whose top-level `NAME = "string"` pairs override variables (parsed strictly: a
 *     malformed answer fails the launch as the lifecycle's TOML decoder would);
 *   - the process starts with execve, without a shell and without a fork: the spawned process is the one the
 *     launcher would have become. argv is the process's `command`, then the user's args if any were given,
 *     else the process's `args`; the working directory is the app (or the process's working-dir).
 * A user-provided command (`docker run --entrypoint launcher IMAGE CMD ARGS…`, `heroku run CMD`) replaces the
 * process type and starts the same way.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export interface LaunchProcess {
  type: string;
  command: string[];
  args: string[];
  default: boolean;
  workingDir?: string;
}

export interface LaunchOptions {
  /** Each buildpack's layers directory, in group order; every directory in it is a launch layer of the image. */
  buildpackLayers: readonly string[];
  /** The image's processes, from every buildpack's launch.toml in group order. */
  processes: readonly LaunchProcess[];
  appDir: string;
  /** The container's environment before the launcher: the run image's, the image config's, the platform's. */
  env: NodeJS.ProcessEnv;
  /** A process type; without one, the default process. */
  processType?: string;
  /** A user-provided command instead of a process type. */
  command?: readonly string[];
  /** User-provided arguments. */
  args?: readonly string[];
  /** The run image's user, when it is not the one running the tests (the launcher runs as the image's user). */
  user?: { uid: number; gid: number };
  /**
   * A command that sets up the container's surroundings (arm64-runtime.ts: qemu for an arm64 image), given
   * `<argv0> <file> <args...>` after its own arguments; it must exec the file in place, keeping the PID.
   */
  via?: readonly string[];
}

function subdirectories(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort()
    .map((name) => join(dir, name));
}

/** Applies one env/ (or env.launch/, env.launch/<process>/) directory's files to `env`. */
export function applyEnvDirectory(env: NodeJS.ProcessEnv, dir: string): void {
  if (!existsSync(dir)) return;
  const files = readdirSync(dir).filter((name) => statSync(join(dir, name)).isFile()).sort();
  for (const file of files) {
    const dot = file.indexOf(".");
    const name = dot === -1 ? file : file.slice(0, dot);
    const suffix = dot === -1 ? "" : file.slice(dot + 1);
    const content = readFileSync(join(dir, file), "utf8");
    const delimFile = join(dir, `${name}.delim`);
    const delim = existsSync(delimFile) ? readFileSync(delimFile, "utf8") : "";
    const current = env[name];
    switch (suffix) {
      case "":
      case "override":
        env[name] = content;
        break;
      case "default":
        if (!current) env[name] = content;
        break;
      case "append":
        env[name] = current ? `${current}${delim}${content}` : content;
        break;
      case "prepend":
        env[name] = current ? `${content}${delim}${current}` : content;
        break;
      default:
        break; // .delim is read with its variable; other suffixes mean nothing to the launcher.
    }
  }
}

/** The environment the launcher gives a process. */
export function launchEnvironment(buildpackLayers: readonly string[], base: NodeJS.ProcessEnv, processType: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const [variable, subdir] of [["PATH", "bin"], ["LD_LIBRARY_PATH", "lib"]] as const) {
    const dirs = [...buildpackLayers]
      .reverse()
      .flatMap((layers) => subdirectories(layers).map((layer) => join(layer, subdir)))
      .filter((dir) => existsSync(dir));
    if (dirs.length > 0) env[variable] = [...dirs, ...(env[variable] ? [env[variable]] : [])].join(":");
  }
  for (const layers of buildpackLayers) {
    for (const layer of subdirectories(layers)) {
      applyEnvDirectory(env, join(layer, "env"));
      applyEnvDirectory(env, join(layer, "env.launch"));
      if (processType) applyEnvDirectory(env, join(layer, "env.launch", processType));
    }
  }
  return env;
}

/** A TOML basic string's escapes (TOML 1.0); anything else after a backslash is an error. */
const TOML_ESCAPES: Record<string, string> = { b: "\b", t: "\t", n: "\n", f: "\f", r: "\r", '"': '"', "\\": "\\" };

/**
 * The top-level `key = "basic string"` pairs of an exec.d program's output, strictly: a raw control character
 * (tab aside) in a string, an unknown escape, a literal or multi-line string, a table or a repeated key is an
 * error, as the lifecycle's decoder would make it one. execpack's exec.d writes only these pairs.
 */
export function parseExecDToml(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^[ \t]+/, "");
    if (line === "" || line.startsWith("#")) continue;
    const pair = /^([A-Za-z0-9_-]+)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*$/su.exec(line);
    if (!pair) throw new Error(`launcher: exec.d output is not a key = "string" line: ${JSON.stringify(raw)}`);
    const [, name, body] = pair as unknown as [string, string, string];
    if (values.has(name)) throw new Error(`launcher: exec.d output sets ${name} twice`);
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(body)) throw new Error(`launcher: exec.d output has a raw control character in ${name}`);
    const value = body.replace(/\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)/gsu, (_, escape: string) => {
      if (escape.length > 1) {
        const code = Number.parseInt(escape.slice(1), 16);
        if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new Error(`launcher: exec.d output has an invalid \\${escape} in ${name}`);
        return String.fromCodePoint(code);
      }
      const decoded = TOML_ESCAPES[escape];
      if (decoded === undefined) throw new Error(`launcher: exec.d output has an invalid escape \\${escape} in ${name}`);
      return decoded;
    });
    values.set(name, value);
  }
  return values;
}

/** What the exec.d programs wrote to the launcher's stdout and stderr, which the process then shares. */
export interface ExecDOutput {
  stdout: Buffer[];
  stderr: Buffer[];
}

/** Runs every exec.d program for `processType` and applies its variables to `env`. */
export function runExecD(
  buildpackLayers: readonly string[],
  env: NodeJS.ProcessEnv,
  processType: string | undefined,
  cwd: string,
  user?: { uid: number; gid: number },
  via?: readonly string[],
): ExecDOutput {
  const output: ExecDOutput = { stdout: [], stderr: [] };
  const programs = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir)
          .sort()
          .map((name) => join(dir, name))
          .filter((file) => statSync(file).isFile())
      : [];
  const layerDirs = buildpackLayers.flatMap((layers) => subdirectories(layers));
  const files = [
    ...layerDirs.flatMap((layer) => programs(join(layer, "exec.d"))),
    ...(processType ? layerDirs.flatMap((layer) => programs(join(layer, "exec.d", processType))) : []),
  ];
  for (const file of files) {
    const stdio: ["ignore", "pipe", "pipe", "pipe"] = ["ignore", "pipe", "pipe", "pipe"];
    const result = via
      ? spawnSync(via[0]!, [...via.slice(1), file, file], { cwd, env, stdio, ...user })
      : spawnSync(file, [], { cwd, env, stdio, ...user });
    const [, stdout, stderr, fd3] = result.output as unknown as [null, Buffer, Buffer, Buffer];
    output.stdout.push(stdout);
    output.stderr.push(stderr);
    if (result.error) throw new Error(`launcher: exec.d ${file} could not run: ${result.error.message}`);
    if (result.status !== 0) throw new Error(`launcher: exec.d ${file} failed (status ${result.status ?? result.signal}): ${stderr.toString("utf8")}`);
    for (const [name, value] of parseExecDToml(fd3.toString("utf8"))) env[name] = value;
  }
  return output;
}

/** Like exec.LookPath: the first executable file of that name on PATH. */
export function lookPath(command: string, path: string | undefined): string {
  if (command.includes("/")) return command;
  for (const dir of (path ?? "").split(":")) {
    const candidate = join(dir || ".", command);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // Not here: the next PATH entry may have it.
    }
  }
  throw new Error(`launcher: '${command}' not found on PATH`);
}

export function launch(options: LaunchOptions): ChildProcess {
  let argv: string[];
  let cwd = options.appDir;
  let processType: string | undefined;
  if (options.command) {
    argv = [...options.command, ...(options.args ?? [])];
  } else {
    const process = options.processType
      ? options.processes.findLast((candidate) => candidate.type === options.processType)
      : options.processes.findLast((candidate) => candidate.default);
    if (!process) throw new Error(`launcher: no process '${options.processType ?? "(default)"}' in the image`);
    processType = process.type;
    argv = [...process.command, ...(options.args && options.args.length > 0 ? options.args : process.args)];
    if (process.workingDir) cwd = resolve(options.appDir, process.workingDir);
  }
  const env = launchEnvironment(options.buildpackLayers, options.env, processType);
  const execD = runExecD(options.buildpackLayers, env, processType, cwd, options.user, options.via);
  const [command, ...args] = argv;
  if (!command) throw new Error("launcher: empty command");
  const file = lookPath(command, env.PATH);
  const child = options.via
    ? spawn(options.via[0]!, [...options.via.slice(1), command, file, ...args], { cwd, env, stdio: "pipe", ...options.user })
    : spawn(file, args, { argv0: command, cwd, env, stdio: "pipe", ...options.user });
  // The exec.d programs wrote to the launcher's own stdout and stderr, which the process inherits: read first.
  const before = (chunks: Buffer[]): Buffer => Buffer.concat(chunks);
  if (execD.stdout.some((chunk) => chunk.length > 0)) child.stdout!.unshift(before(execD.stdout));
  if (execD.stderr.some((chunk) => chunk.length > 0)) child.stderr!.unshift(before(execD.stderr));
  return child;
}
