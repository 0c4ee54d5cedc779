/**
 * The release's programs as commands of the dyno: `.execpack/commands/<name>` is a link to the execpack
 * launcher, which sees the name it was run by and boots that program instead of the binary, with the same
 * environment and the same exec. .profile.d puts the folder on PATH after the stack's own commands.
 * Also: what the slug holds, printed at the end of the build.
 */
import { lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join, relative } from "node:path";
import { counted, detail, formatBytes } from "../common/output.js";
import { onDisk } from "../common/disk.js";
import { commandsDir } from "./slug.js";
import type { InstallManifest, SlugPaths } from "./slug.js";

export function writeCommandLaunchers(paths: SlugPaths, manifest: InstallManifest): void {
  const folder = commandsDir(paths);
  // A full disk here fails the build with its code; bin/compile then removes the whole .execpack.
  onDisk({ directory: paths.root, what: "the command launchers" }, () => {
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    // Relative, so the links hold wherever the slug runs (/tmp/build_<id> at build, /app on the dyno).
    const launcher = relative(folder, join(paths.root, "bin", "execpack"));
    for (const name of Object.keys(manifest.commands ?? { [manifest.name]: manifest.name })) symlinkSync(launcher, join(folder, name));
  });
}

/** Bytes and files under a folder, links not followed. */
function usage(path: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (!stats) return { bytes, files };
  if (!stats.isDirectory()) return { bytes: stats.isFile() ? stats.size : 0, files: stats.isFile() ? 1 : 0 };
  for (const name of readdirSync(path)) {
    const inner = usage(join(path, name));
    bytes += inner.bytes;
    files += inner.files;
  }
  return { bytes, files };
}

/** "Slug: 232.1 MiB in 41 files: the release 190.4 MiB (...), Node.js 41.5 MiB, ..., the app 12.0 KiB". */
export function describeSlug(paths: SlugPaths, manifest: InstallManifest): void {
  const total = usage(paths.appDir);
  const release = usage(paths.binaryDir);
  const node = usage(join(paths.root, "node"));
  const bootstrapper = usage(join(paths.root, "bootstrapper"));
  const execpack = usage(paths.root);
  const app = total.bytes - execpack.bytes;
  const commands = Object.keys(manifest.commands ?? {});
  detail(`Slug: ${formatBytes(total.bytes)} in ${counted(total.files, "file")} (Heroku allows 500 MB compressed)`);
  detail(`  release (BINARY_HOME=.execpack/binary): ${formatBytes(release.bytes)} in ${counted(release.files, "file")}; binary: ${manifest.path ?? manifest.name}`);
  detail(`  commands on PATH: ${commands.length > 12 ? `${commands.slice(0, 12).join(", ")} and ${commands.length - 12} more` : commands.join(", ") || "(none)"}`);
  detail(`  Node.js for the bootstrapper: ${formatBytes(node.bytes)}; bootstrapper: ${formatBytes(bootstrapper.bytes)}`);
  detail(`  the app's own files: ${formatBytes(app)}`);
}
