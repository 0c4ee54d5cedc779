/**
 * Where things live in the slug. Everything execpack installs sits under `.execpack/` at the app root,
 * and every path recorded in it is relative: the slug is built in /tmp/build_<id> and runs from /app.
 *
 *   .execpack/node/bin/node          Node.js for the bootstrapper (the stack image has none)
 *   .execpack/bootstrapper/*.cjs     this code, one bundle per command, built at compile time
 *   .execpack/bin/execpack[ctl]      launchers, put on PATH by .profile.d/execpack.sh
 *   .execpack/binary/                the release (BINARY_HOME): its tree, a single top folder stripped
 *   .execpack/commands/<name>        a launcher per program of the release, on PATH after the stack's commands
 *   .execpack/binary.json            what was installed (InstallManifest)
 *
 * On Heroku's Fir generation (Cloud Native Buildpacks) the same tree is the `execpack` launch layer, outside
 * the app directory, with Node.js and the binary linked in from layers of their own (lib/cnb.sh); its
 * `app-dir` file names the app directory.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExecpackError } from "../common/errors.js";

export const SLUG_DIR_NAME = ".execpack";

export interface InstallManifest {
  /** The binary's command name (its file name); its argv[0] when a PATH lookup of it finds it. */
  name: string;
  /** The binary's path under the release root, `.execpack/binary/` (absent in manifests of older builds: `name`). */
  path?: string;
  /** Every program of the release by command name, as paths under the release root; the binary's included. */
  commands?: Record<string, string>;
  /** Library folders of the release (under its root) its programs need from the loader: the binary's LD_LIBRARY_PATH. */
  libraryPath?: string[];
  /** Path of the chosen entry inside the release archive. */
  entry: string;
  size: number;
  sha256: string;
  /** BINARY_URL with any password masked. */
  source: string;
  format: string;
  fetch: "build" | "boot";
  /** When BINARY_URL named a GitHub release: what it resolved to (execpackctl env and check show it). */
  release?: {
    repository: string;
    tag: string;
    asset: string;
    /** What the asset's SHA-256 was checked against (`checksums.txt`...), or null when nothing was published. */
    verifiedBy: string | null;
  };
}

export interface SlugPaths {
  appDir: string;
  root: string;
  binaryDir: string;
  manifest: string;
}

/** The app directory of a bootstrapper file in the slug: the parent of its `.execpack` directory. */
export function appDirOf(moduleUrl: string): string {
  const file = fileURLToPath(moduleUrl);
  const marker = file.lastIndexOf(`/${SLUG_DIR_NAME}/`);
  return marker === -1 ? process.cwd() : file.slice(0, marker) || "/";
}

export function slugPaths(appDir: string, root = join(appDir, SLUG_DIR_NAME)): SlugPaths {
  return { appDir, root, binaryDir: join(root, "binary"), manifest: join(root, "binary.json") };
}

/** Written by bin/build into the execpack layer on Fir (CNB): the app directory, where binary.env is. */
export const APP_DIR_FILE = "app-dir";

/**
 * The install a bootstrapper bundle runs from (<root>/bootstrapper/<command>.cjs), or undefined when it runs
 * from a checkout. In a classic slug the root is <app>/.execpack; on Fir it is the execpack layer, whose
 * app-dir file names the app: the layers and the app keep their absolute paths in the image.
 */
export function installedSlugPaths(moduleUrl: string): SlugPaths | undefined {
  const root = dirname(dirname(fileURLToPath(moduleUrl)));
  if (basename(root) === SLUG_DIR_NAME) return slugPaths(dirname(root));
  let appDir = "";
  try {
    appDir = readFileSync(join(root, APP_DIR_FILE), "utf8").trim();
  } catch {
    // No app-dir file: this is not an installed layer but a checkout (src/cli/ run by tsx).
  }
  return appDir ? slugPaths(appDir, root) : undefined;
}

export function readManifest(paths: SlugPaths): InstallManifest {
  let text: string;
  try {
    text = readFileSync(paths.manifest, "utf8");
  } catch (cause) {
    throw new ExecpackError("boot.not-installed", "No binary is installed in this slug", {
      seen: [`missing: ${paths.manifest}`],
      hint: "The build did not run execpack's compile step. Set BINARY_URL (heroku config:set BINARY_URL=https://…) and push again.",
      cause,
    });
  }
  return JSON.parse(text) as InstallManifest;
}

export function binaryPath(paths: SlugPaths, manifest: InstallManifest): string {
  return join(paths.binaryDir, manifest.path ?? manifest.name);
}

/** The folder of command launchers: every program of the release, by name, through the same boot. */
export function commandsDir(paths: SlugPaths): string {
  return join(paths.root, "commands");
}
