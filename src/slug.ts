/**
 * Where things live in the slug. Everything execpack installs sits under `.execpack/` at the app root,
 * and every path recorded in it is relative: the slug is built in /tmp/build_<id> and runs from /app.
 *
 *   .execpack/node/bin/node          Node.js for the bootstrapper (the stack image has none)
 *   .execpack/bootstrapper/*.cjs     this code, one bundle per command, built at compile time
 *   .execpack/bin/execpack[ctl]      launchers, put on PATH by .profile.d/execpack.sh
 *   .execpack/binary/<name>          the released binary
 *   .execpack/binary.json            what was installed (InstallManifest)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExecpackError } from "./errors.js";

export const SLUG_DIR_NAME = ".execpack";

export interface InstallManifest {
  /** File name of the binary under `.execpack/binary/`; also its argv[0]. */
  name: string;
  /** Path of the chosen entry inside the release archive. */
  entry: string;
  size: number;
  sha256: string;
  /** BINARY_URL with any password masked. */
  source: string;
  format: string;
  fetch: "build" | "boot";
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

export function slugPaths(appDir: string): SlugPaths {
  const root = join(appDir, SLUG_DIR_NAME);
  return { appDir, root, binaryDir: join(root, "binary"), manifest: join(root, "binary.json") };
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
  return join(paths.binaryDir, manifest.name);
}
