/**
 * A small stand-in for the Cloud Native Buildpacks lifecycle (buildpack API 0.10), enough to run this buildpack
 * the way Heroku's Fir generation does. Detect and build run the real bin/detect and bin/build in the app
 * directory with the CNB_* variables, the config vars as <platform>/env files and nothing of them in the
 * environment (buildpack.toml has clear-env). Buildpacks of the group that come after this one (test-made ones,
 * `laterBuildpacks`) then build in the environment its build layers give them: each build layer's bin/ first on
 * PATH, lib/ first on LD_LIBRARY_PATH and LIBRARY_PATH, then its env/ and env.build/ files. Export then does
 * what each <layer>.toml asks: launch layers go into the image (a launch layer left without a directory is
 * taken from the previous image), cache layers into the cache. Before a rebuild the restore follows the spec:
 * the metadata of a launch layer that is neither build nor cache comes back from the image, cached layers come
 * back from the cache, both re-encoded without their [types] table, and a build layer that is not cached does
 * not come back at all, so the buildpack has to opt into every reuse again. As in an image, layers and the app
 * keep their absolute paths from build to launch: after each build the image's layers are laid out in the
 * layers directory again.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runScript } from "../../../src/ctl/local-heroku.js";
import type { ScriptResult } from "../../../src/ctl/local-heroku.js";
import { applyEnvDirectory } from "./cnb-launcher.js";
import type { LaunchProcess } from "./cnb-launcher.js";

export interface LayerToml {
  types: { launch: boolean; build: boolean; cache: boolean };
  metadata: Record<string, string>;
}

/** Reads the TOML this project's bin/build writes and the lifecycle restores: tables of strings, booleans and string arrays. */
export function parseToml(text: string): Array<{ table: string; values: Record<string, string | boolean | string[]> }> {
  const tables: Array<{ table: string; values: Record<string, string | boolean | string[]> }> = [{ table: "", values: {} }];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      tables.push({ table: header[1]!.trim(), values: {} });
      continue;
    }
    const pair = /^([A-Za-z0-9_-]+)\s*=\s*(.+)$/.exec(line);
    if (!pair) throw new Error(`unreadable TOML line: ${raw}`);
    const value = pair[2]!;
    tables.at(-1)!.values[pair[1]!] = value === "true" ? true : value === "false" ? false : (JSON.parse(value) as string | string[]);
  }
  return tables;
}

export function parseLayerToml(text: string): LayerToml {
  const tables = parseToml(text);
  const types = tables.find((table) => table.table === "types")?.values ?? {};
  const metadata = tables.find((table) => table.table === "metadata")?.values ?? {};
  return {
    types: { launch: types.launch === true, build: types.build === true, cache: types.cache === true },
    metadata: Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, String(value)])),
  };
}

export function parseLaunchToml(text: string): LaunchProcess[] {
  return parseToml(text)
    .filter((table) => table.table === "processes")
    .map(({ values }) => ({
      type: String(values.type),
      command: values.command as string[],
      args: (values.args as string[] | undefined) ?? [],
      default: values.default === true,
      workingDir: values["working-dir"] as string | undefined,
    }));
}

/** Runs a buildpack executable the way the lifecycle does: no arguments, the app as working directory. */
function runPhase(file: string, env: NodeJS.ProcessEnv, cwd: string, onOutput?: (chunk: string) => void): Promise<ScriptResult> {
  return runScript(file, [], env, onOutput, cwd);
}

/** How the lifecycle writes restored metadata: its own encoding, indented, and without [types]. */
function restoredToml(layer: LayerToml): string {
  const lines = Object.entries(layer.metadata).map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`);
  return `[metadata]\n${lines.join("\n")}\n`;
}

/** `cp -a`: keeps modes and the relative links between layers. */
function copyTree(source: string, destination: string): void {
  execFileSync("cp", ["-a", source, destination]);
}

function layerNames(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".toml") && !["launch.toml", "build.toml", "store.toml"].includes(name))
    .map((name) => name.slice(0, -".toml".length))
    .sort();
}

export interface CnbBuildResult extends ScriptResult {
  /** Launch layers the buildpack left without a directory: taken from the previous image. */
  reusedFromImage: string[];
  /** Layers whose directory came back from the cache before the build. */
  restoredFromCache: string[];
  /** What each later buildpack's bin/build did, in group order (none when this buildpack failed). */
  later: ScriptResult[];
}

/**
 * The environment a later buildpack builds in, after the buildpacks whose layers directories are given (in
 * group order): their build layers' bin/ and lib/ prepended (later buildpacks' first, a buildpack's layers in
 * name order), then each build layer's env/ and env.build/ files.
 */
export function buildEnvironment(buildpackLayers: readonly string[], base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  const buildLayers = (layers: string) =>
    layerNames(layers)
      .filter((name) => parseLayerToml(readFileSync(join(layers, `${name}.toml`), "utf8")).types.build && existsSync(join(layers, name)))
      .map((name) => join(layers, name));
  for (const [variable, subdir] of [["PATH", "bin"], ["LD_LIBRARY_PATH", "lib"], ["LIBRARY_PATH", "lib"]] as const) {
    const dirs = [...buildpackLayers]
      .reverse()
      .flatMap((layers) => buildLayers(layers).map((layer) => join(layer, subdir)))
      .filter((dir) => existsSync(dir));
    if (dirs.length > 0) env[variable] = [...dirs, ...(env[variable] ? [env[variable]] : [])].join(":");
  }
  for (const layers of buildpackLayers) {
    for (const layer of buildLayers(layers)) {
      applyEnvDirectory(env, join(layer, "env"));
      applyEnvDirectory(env, join(layer, "env.build"));
    }
  }
  return env;
}

export interface CnbLifecycleOptions {
  buildpackDir: string;
  /** Holds the app directory (like /workspace), the layers (like /layers), the platform directory, image and cache. */
  workDir: string;
  /** The builder image's environment: PATH without Node.js, HOME… */
  buildEnv: NodeJS.ProcessEnv;
  /** The image's architecture (CNB_TARGET_ARCH); default: this machine's. */
  targetArch?: "amd64" | "arm64";
  /** Directories of buildpacks that build after this one, in group order (their bin/build only). */
  laterBuildpacks?: readonly string[];
}

export class CnbLifecycle {
  readonly appDir: string;
  readonly layersRoot: string;
  /** This buildpack's layers directory, <layers>/<escaped id>, as CNB_LAYERS_DIR. */
  readonly layersDir: string;
  readonly platformDir: string;
  private readonly imageDir: string;
  private readonly cacheDir: string;
  private readonly options: CnbLifecycleOptions;

  constructor(options: CnbLifecycleOptions) {
    this.options = options;
    const id = /^id\s*=\s*"([^"]+)"/m.exec(readFileSync(join(options.buildpackDir, "buildpack.toml"), "utf8"))?.[1];
    if (!id) throw new Error("buildpack.toml has no [buildpack] id");
    this.appDir = join(options.workDir, "workspace");
    this.layersRoot = join(options.workDir, "layers");
    this.layersDir = join(this.layersRoot, id.replaceAll("/", "_"));
    this.platformDir = join(options.workDir, "platform");
    this.imageDir = join(options.workDir, "image");
    this.cacheDir = join(options.workDir, "cache");
  }

  /** The app's source, as the platform lays it out in the workspace. */
  useApp(sourceDir: string): void {
    rmSync(this.appDir, { recursive: true, force: true });
    cpSync(sourceDir, this.appDir, { recursive: true });
  }

  /** Config vars: one file per variable in <platform>/env/. */
  setConfigVars(vars: Readonly<Record<string, string>>): void {
    const envDir = join(this.platformDir, "env");
    rmSync(envDir, { recursive: true, force: true });
    mkdirSync(envDir, { recursive: true });
    for (const [name, value] of Object.entries(vars)) writeFileSync(join(envDir, name), value);
  }

  private phaseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      ...this.options.buildEnv,
      CNB_BUILDPACK_DIR: this.options.buildpackDir,
      CNB_PLATFORM_DIR: this.platformDir,
      CNB_APP_DIR: this.appDir,
      CNB_TARGET_OS: "linux",
      CNB_TARGET_ARCH: this.options.targetArch ?? (process.arch === "arm64" ? "arm64" : "amd64"),
      CNB_TARGET_DISTRO_NAME: "ubuntu",
      CNB_TARGET_DISTRO_VERSION: "24.04",
      ...extra,
    };
  }

  detect(onOutput?: (chunk: string) => void): Promise<ScriptResult & { plan: string }> {
    const planPath = join(this.options.workDir, "plan.toml");
    writeFileSync(planPath, "");
    const env = this.phaseEnv({ CNB_BUILD_PLAN_PATH: planPath });
    return runPhase(join(this.options.buildpackDir, "bin/detect"), env, this.appDir, onOutput).then((result) => ({
      ...result,
      plan: readFileSync(planPath, "utf8"),
    }));
  }

  /** Restore, bin/build, export; on success the new image's layers are laid out for launch. */
  async build(onOutput?: (chunk: string) => void): Promise<CnbBuildResult> {
    const restoredFromCache = this.restore();
    const planPath = join(this.options.workDir, "buildpack-plan.toml");
    writeFileSync(planPath, "");
    const env = this.phaseEnv({ CNB_LAYERS_DIR: this.layersDir, CNB_BP_PLAN_PATH: planPath });
    const result = await runPhase(join(this.options.buildpackDir, "bin/build"), env, this.appDir, onOutput);
    if (result.status !== 0) return { ...result, reusedFromImage: [], restoredFromCache, later: [] };
    const later: ScriptResult[] = [];
    for (const buildpack of this.options.laterBuildpacks ?? []) later.push(await this.buildLater(buildpack, onOutput));
    const reusedFromImage = this.export();
    this.layOutImage();
    return { ...result, reusedFromImage, restoredFromCache, later };
  }

  /** The layers directory of a later buildpack, <layers>/<escaped id>. */
  layersDirOf(buildpackDir: string): string {
    const id = /^id\s*=\s*"([^"]+)"/m.exec(readFileSync(join(buildpackDir, "buildpack.toml"), "utf8"))?.[1];
    if (!id) throw new Error(`${buildpackDir}/buildpack.toml has no [buildpack] id`);
    return join(this.layersRoot, id.replaceAll("/", "_"));
  }

  /** A later buildpack's bin/build, in the environment this buildpack's build layers give it. */
  private buildLater(buildpackDir: string, onOutput?: (chunk: string) => void): Promise<ScriptResult> {
    const layersDir = this.layersDirOf(buildpackDir);
    rmSync(layersDir, { recursive: true, force: true });
    mkdirSync(layersDir, { recursive: true });
    const planPath = join(this.options.workDir, "later-plan.toml");
    writeFileSync(planPath, "");
    const env = buildEnvironment([this.layersDir], this.phaseEnv({ CNB_BUILDPACK_DIR: buildpackDir, CNB_LAYERS_DIR: layersDir, CNB_BP_PLAN_PATH: planPath }));
    return runPhase(join(buildpackDir, "bin/build"), env, this.appDir, onOutput);
  }

  /** The processes of the image: launch.toml of this (only) buildpack. */
  processes(): LaunchProcess[] {
    const file = join(this.imageDir, "launch.toml");
    return existsSync(file) ? parseLaunchToml(readFileSync(file, "utf8")) : [];
  }

  /** A layer's <layer>.toml as stored with the image or the cache. */
  layerToml(name: string): LayerToml | undefined {
    for (const dir of [this.imageDir, this.cacheDir]) {
      const file = join(dir, `${name}.toml`);
      if (existsSync(file)) return parseLayerToml(readFileSync(file, "utf8"));
    }
    return undefined;
  }

  private restore(): string[] {
    rmSync(this.layersDir, { recursive: true, force: true });
    mkdirSync(this.layersDir, { recursive: true });
    for (const name of layerNames(this.imageDir)) {
      const layer = parseLayerToml(readFileSync(join(this.imageDir, `${name}.toml`), "utf8"));
      // From the image only a launch layer's that is neither build nor cache; a cached one's comes with it below.
      if (!layer.types.build && !layer.types.cache) writeFileSync(join(this.layersDir, `${name}.toml`), restoredToml(layer));
    }
    const restored: string[] = [];
    for (const name of layerNames(this.cacheDir)) {
      writeFileSync(join(this.layersDir, `${name}.toml`), restoredToml(parseLayerToml(readFileSync(join(this.cacheDir, `${name}.toml`), "utf8"))));
      if (existsSync(join(this.cacheDir, name))) {
        copyTree(join(this.cacheDir, name), join(this.layersDir, name));
        restored.push(name);
      }
    }
    return restored;
  }

  private export(): string[] {
    const image = `${this.imageDir}.next`;
    const cache = `${this.cacheDir}.next`;
    for (const dir of [image, cache]) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    const reused: string[] = [];
    for (const name of layerNames(this.layersDir)) {
      const toml = join(this.layersDir, `${name}.toml`);
      const dir = join(this.layersDir, name);
      const { types } = parseLayerToml(readFileSync(toml, "utf8"));
      if (types.launch) {
        if (existsSync(dir)) {
          copyTree(dir, join(image, name));
        } else if (existsSync(join(this.imageDir, name))) {
          copyTree(join(this.imageDir, name), join(image, name));
          reused.push(name);
        } else {
          throw new Error(`export: launch layer '${name}' has no directory and the previous image has no such layer`);
        }
        cpSync(toml, join(image, `${name}.toml`));
      }
      if (types.cache && existsSync(dir)) {
        copyTree(dir, join(cache, name));
        cpSync(toml, join(cache, `${name}.toml`));
      }
    }
    if (existsSync(join(this.layersDir, "launch.toml"))) cpSync(join(this.layersDir, "launch.toml"), join(image, "launch.toml"));
    for (const [next, current] of [[image, this.imageDir], [cache, this.cacheDir]] as const) {
      rmSync(current, { recursive: true, force: true });
      execFileSync("mv", [next, current]);
    }
    return reused;
  }

  /** The image's filesystem: only its launch layers, at the paths they were built at. */
  private layOutImage(): void {
    rmSync(this.layersDir, { recursive: true, force: true });
    mkdirSync(this.layersDir, { recursive: true });
    for (const name of layerNames(this.imageDir)) copyTree(join(this.imageDir, name), join(this.layersDir, name));
  }
}
