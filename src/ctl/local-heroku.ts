/**
 * Playing Heroku locally, for `execpackctl try` and the end-to-end tests: copy the app to a build directory
 * named like Heroku's, write config vars into an ENV_DIR, run the real bin/detect, bin/compile and
 * bin/release, move the slug to another directory (Heroku builds in /tmp/build_<id> and runs from /app),
 * then start a process the way a dyno does: clean environment, HOME at the slug, .profile.d sourced,
 * the command run by bash.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

export interface ScriptResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Tools a stack image has that must not be on a dyno's PATH here: the stack images carry no Node.js. */
const NOT_ON_STACK = new Set(["node", "nodejs", "npm", "npx", "corepack", "yarn", "pnpm"]);

/**
 * A PATH like a stack image's: every program of this machine's system bin directories except Node.js and
 * its package managers, as symlinks in one directory. `extraDirs` come first (heroku/nodejs ran before us).
 */
export function makeStackPath(workDir: string, extraDirs: readonly string[] = []): string {
  const dir = join(workDir, "stack-bin");
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    for (const systemDir of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
      if (!existsSync(systemDir)) continue;
      for (const name of readdirSync(systemDir)) {
        if (NOT_ON_STACK.has(name) || existsSync(join(dir, name))) continue;
        symlinkSync(join(systemDir, name), join(dir, name));
      }
    }
  }
  return [...extraDirs, dir].join(":");
}

/**
 * A directory with this process's Node.js and the machine's npm, as heroku/nodejs leaves them on PATH when
 * it runs before execpack: the compile then copies that Node.js instead of downloading one.
 */
export function nodeOnPath(workDir: string): string {
  const dir = join(workDir, "nodejs-bin");
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    symlinkSync(process.execPath, join(dir, "node"));
    const npm = spawnSync("bash", ["-c", "command -v npm"], { encoding: "utf8" }).stdout.trim();
    if (npm) symlinkSync(realpathSync(npm), join(dir, "npm"));
  }
  return dir;
}

export function writeEnvDir(envDir: string, vars: Readonly<Record<string, string>>): void {
  mkdirSync(envDir, { recursive: true });
  for (const [name, value] of Object.entries(vars)) writeFileSync(join(envDir, name), value);
}

export function runScript(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onOutput?: (chunk: string) => void,
  cwd?: string,
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      onOutput?.(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      onOutput?.(chunk);
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

export interface BuildOptions {
  buildpackDir: string;
  appDir: string;
  /** Scratch directory holding build_<id>, the cache, the env dir and the slug's final place. */
  workDir: string;
  configVars: Readonly<Record<string, string>>;
  /** The compile's environment (PATH without Node.js, HOME…). */
  buildEnv: NodeJS.ProcessEnv;
  /** Reused between builds, like Heroku's build cache. Default: <workDir>/cache. */
  cacheDir?: string;
  onOutput?: (chunk: string) => void;
  /** The buildpack script that compiles: `compile` (a deploy, the default) or `test-compile` (Heroku CI). */
  compileScript?: "compile" | "test-compile";
}

export interface BuildResult {
  detect: ScriptResult;
  compile?: ScriptResult;
  release?: ScriptResult;
  buildDir: string;
  /** Where the slug was moved after a successful build. */
  slugDir?: string;
  /** The ENV_DIR the build was given. */
  envDir: string;
}

export async function buildApp(options: BuildOptions): Promise<BuildResult> {
  const id = randomBytes(4).toString("hex");
  const buildDir = join(options.workDir, `build_${id}`);
  const cacheDir = options.cacheDir ?? join(options.workDir, "cache");
  const envDir = join(options.workDir, `env_${id}`);
  cpSync(options.appDir, buildDir, { recursive: true, filter: (source) => !source.endsWith("/.env") });
  mkdirSync(cacheDir, { recursive: true });
  writeEnvDir(envDir, options.configVars);

  const bin = (name: string) => join(options.buildpackDir, "bin", name);
  const say = options.onOutput ?? (() => {});
  // Heroku prints detect's answer and the process types itself; the compile's output streams as it comes.
  const detect = await runScript(bin("detect"), [buildDir], options.buildEnv);
  if (detect.status !== 0) {
    say(`${detect.stderr} !     No default language could be detected for this app.\n`);
    return { detect, buildDir, envDir };
  }
  say(`-----> ${detect.stdout.trim()} app detected\n`);
  const compile = await runScript(bin(options.compileScript ?? "compile"), [buildDir, cacheDir, envDir], options.buildEnv, options.onOutput);
  if (compile.status !== 0) return { detect, compile, buildDir, envDir };
  const release = await runScript(bin("release"), [buildDir], options.buildEnv);
  if (release.status !== 0) return { detect, compile, release, buildDir, envDir };
  say(`-----> Discovering process types\n       ${describeProcessTypes(buildDir, release.stdout)}\n`);

  const slugDir = join(options.workDir, `app_${id}`);
  renameSync(buildDir, slugDir);
  return { detect, compile, release, buildDir, slugDir, envDir };
}

function describeProcessTypes(appDir: string, releaseYaml: string): string {
  const procfile = join(appDir, "Procfile");
  if (existsSync(procfile)) return `Procfile declares types -> ${processTypes(readFileSync(procfile, "utf8")).join(", ")}`;
  return `Default types for buildpack -> ${processTypes(releaseYaml).join(", ")}`;
}

export function processTypes(source: string): string[] {
  return [...source.matchAll(/^[ \t]*([A-Za-z0-9_-]+):[ \t]*\S/gm)].map((match) => match[1] ?? "").filter((type) => type !== "default_process_types");
}

/** The Procfile's command for a process type, else the default that bin/release offered. */
export function processCommand(slugDir: string, releaseYaml: string, type = "web"): string | undefined {
  const procfile = join(slugDir, "Procfile");
  const source = existsSync(procfile) ? readFileSync(procfile, "utf8") : releaseYaml;
  for (const line of source.split("\n")) {
    const match = /^\s*([A-Za-z0-9_-]+):\s*(.+?)\s*$/.exec(line);
    if (match && match[1] === type) return match[2];
  }
  return undefined;
}

export interface DynoOptions {
  slugDir: string;
  command: string;
  configVars: Readonly<Record<string, string>>;
  /** The stack's PATH; the dyno starts with it and .profile.d adds to it. */
  path: string;
  port?: number;
  /** Run the command with bash's `exec`, so the command keeps the PID that bash had. */
  execCommand?: boolean;
  stdio?: "pipe" | "inherit";
  /** The dyno's name, as $DYNO: `web.1` unless said (`worker.1`, `release.1`). */
  dyno?: string;
}

/**
 * Starts a process like a dyno: only the config vars and what Heroku sets, .profile.d sourced first. Its
 * temporary files (the profile step's record holds derived passwords; boot-time fetches) go to a folder beside
 * the slug, removed with it, unless TMPDIR is a config var: a dyno's /tmp dies with the dyno, this machine's not.
 */
export function startDyno(options: DynoOptions): ChildProcess {
  const tmp = `${options.slugDir}.tmp`;
  if (options.configVars.TMPDIR === undefined) mkdirSync(tmp, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    TMPDIR: tmp,
    ...options.configVars,
    HOME: options.slugDir,
    PATH: options.path,
    PORT: String(options.port ?? 5000),
    DYNO: options.dyno ?? "web.1",
    LANG: "en_US.UTF-8",
  };
  const profile = 'for f in "${HOME}"/.profile.d/*.sh; do [ -r "${f}" ] && . "${f}"; done;';
  const script = `${profile} ${options.execCommand ? "exec " : ""}${options.command}`;
  return spawn("bash", ["-c", script], { cwd: options.slugDir, env, stdio: options.stdio ?? "pipe" });
}
