/**
 * Writing a whole release to disk: every entry of the archive under a staging directory of its own, so no
 * entry can ever meet one of execpack's working names (an entry called `.incoming` or `binary.json` is just a
 * file of the release). Regular files and directories are written as the archive streams past; links are
 * made at the end, once every entry is known, so no file is ever written through a link. A single top-level
 * folder (`prometheus-2.42.0.linux-amd64/`) is stripped: its contents are the release root.
 *
 * Safety: entry paths were already refused when absolute or holding ".." (safety.ts). A symlink must point
 * inside the release root, lexically and once resolved on disk; a hard link must name a regular file of the
 * release. Devices and pipes are never created. Anything else refuses the whole archive.
 */
import { createHash } from "node:crypto";
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { link, lstat, mkdir, open, readlink, rm, symlink, unlink } from "node:fs/promises";
import { posix } from "node:path";
import { spent } from "./byte-stream.js";
import { ExecpackError } from "../common/errors.js";
import { diskFailure } from "../common/disk.js";
import { escapeControl } from "../common/output.js";

export interface WrittenFile {
  size: number;
  /** Only for files written with `hash: true` (the candidates): hashing every file would slow big releases. */
  sha256: string | undefined;
}

interface PendingLink {
  kind: "symlink" | "hardlink";
  /** Archive path of the link. */
  path: string;
  /** As the archive gives it: relative to the link's directory (symlink) or an archive path (hard link). */
  target: string;
}

export interface ReleaseLayout {
  /** Absolute path of the release root inside the staging directory (the top folder when one was stripped). */
  root: string;
  /** The stripped top folder ("" when none), so archive paths can be mapped to paths under `root`. */
  topFolder: string;
  /** Links created, as paths under `root` with their archive targets. */
  links: ReadonlyMap<string, PendingLink>;
  /** Symlinks left out because they point at nothing in the release (paths under `root`). */
  dangling: string[];
}

export class ReleaseTree {
  readonly staging: string;
  readonly #links = new Map<string, PendingLink>();
  /** Archive paths written as regular files, in archive order: what a hard link may name. */
  readonly #files = new Set<string>();
  /** First path segment of every kept file or link: one segment means a top folder to strip. */
  readonly #tops = new Set<string>();
  readonly #createdDirs = new Set<string>();
  /** Archive paths written as regular files, even if forgotten since: with #createdDirs, all that is on disk before finish(). */
  readonly #written = new Set<string>();
  /** Archive paths left out (builds for other systems): a hard link to one is left out with it. */
  readonly #forgotten = new Set<string>();
  /** Bytes of the files finished so far: with the entry being written, how much the release needs at least. */
  #bytes = 0;
  #created = false;

  constructor(staging: string) {
    this.staging = staging;
  }

  /** Creates the empty staging directory; it must not exist (its name is execpack's, never an entry's). */
  async create(): Promise<void> {
    try {
      await mkdir(posix.dirname(this.staging), { recursive: true });
      await mkdir(this.staging);
    } catch (error) {
      throw this.#writeFailed(this.staging, error);
    }
    this.#created = true;
  }

  async directory(path: string): Promise<void> {
    await this.#mkdirs(path);
  }

  /**
   * Writes one regular file; a later entry of the same path replaces it, as when tar extracts. `size` is what
   * the archive declares for it, for the message when the disk fills up. A file given whole, as a Buffer (at
   * most SMALL_FILE_BYTES, byte-stream.ts), is written with synchronous calls; chunks are streamed.
   */
  async file(path: string, mode: number, content: Buffer | AsyncIterable<Uint8Array>, options: { hash: boolean; size?: number }): Promise<WrittenFile> {
    this.#noteTop(path);
    this.#links.delete(path);
    const target = this.#absolute(path);
    await this.#mkdirs(posix.dirname(path));
    // Only a path this tree wrote or made a folder of can be taken: the staging folder started empty, and
    // links come last. A new path needs no lstat.
    if (this.#written.has(path) || this.#createdDirs.has(path)) await this.#clear(path);
    const written = Buffer.isBuffer(content) ? this.#writeWhole(target, mode, content, options) : await this.#writeStreamed(target, mode, content, options);
    this.#written.add(path);
    this.#files.add(path);
    this.#bytes += written.size;
    return written;
  }

  #writeWhole(target: string, mode: number, content: Buffer, options: { hash: boolean; size?: number }): WrittenFile {
    let fd: number;
    try {
      fd = openSync(target, "wx", mode & 0o777);
    } catch (error) {
      throw this.#writeFailed(target, error, options.size);
    }
    let failure: unknown;
    try {
      for (let offset = 0; offset < content.length; ) offset += writeSync(fd, content, offset);
      fchmodSync(fd, mode & 0o777); // the umask took bits from open's mode; the archive's mode is meant
    } catch (error) {
      failure = error;
    }
    try {
      closeSync(fd); // a file system may report a full disk only here
    } catch (error) {
      failure ??= error;
    }
    if (failure !== undefined) throw this.#writeFailed(target, failure, Math.max(content.length, options.size ?? 0));
    spent(content.length);
    return { size: content.length, sha256: options.hash ? createHash("sha256").update(content).digest("hex") : undefined };
  }

  async #writeStreamed(target: string, mode: number, chunks: AsyncIterable<Uint8Array>, options: { hash: boolean; size?: number }): Promise<WrittenFile> {
    const hash = options.hash ? createHash("sha256") : undefined;
    let size = 0;
    let handle;
    try {
      handle = await open(target, "wx", mode & 0o777);
    } catch (error) {
      throw this.#writeFailed(target, error, options.size);
    }
    try {
      for await (const chunk of chunks) {
        hash?.update(chunk);
        size += chunk.length;
        await writeAll(handle, chunk).catch((error: unknown) => {
          throw this.#writeFailed(target, error, Math.max(size, options.size ?? 0));
        });
        spent(chunk.length);
      }
      await handle.chmod(mode & 0o777).catch((error: unknown) => { // the umask took bits from open's mode
        throw this.#writeFailed(target, error, size);
      });
    } finally {
      await handle.close();
    }
    return { size, sha256: hash?.digest("hex") };
  }

  /** Remembers a link; links are made by finish(), after every file is written. */
  link(kind: "symlink" | "hardlink", path: string, target: string): void {
    this.#noteTop(path);
    this.#links.delete(path);
    this.#links.set(path, { kind, path, target });
  }

  /** A file skipped after it was written (a later entry of the same path that is left out). */
  forget(path: string): void {
    this.#files.delete(path);
    this.#links.delete(path);
    this.#forgotten.add(path);
  }

  /** Decides the root, makes the links, checks that every symlink stays inside. */
  async finish(): Promise<ReleaseLayout> {
    const topFolder = this.#topFolder();
    const root = topFolder === "" ? this.staging : this.#absolute(topFolder);
    await mkdir(root, { recursive: true });
    const created = new Map<string, PendingLink>();
    const relative = (path: string): string => (topFolder === "" ? path : path.slice(topFolder.length + 1));
    const symlinks: string[] = [];
    for (const pending of this.#links.values()) {
      const path = relative(pending.path);
      const at = this.#absolute(pending.path);
      if (pending.kind === "symlink") {
        refuseEscapingSymlink(path, pending.target);
        await this.#clear(pending.path);
        await this.#mkdirs(posix.dirname(pending.path));
        await symlink(pending.target, at).catch((error: unknown) => {
          throw this.#writeFailed(at, error);
        });
        symlinks.push(path);
      } else {
        if (this.#forgotten.has(pending.target) && !this.#files.has(pending.target)) continue; // its file was left out
        if (!this.#files.has(pending.target)) throw badHardLink(pending.path, pending.target);
        await this.#clear(pending.path);
        await this.#mkdirs(posix.dirname(pending.path));
        await link(this.#absolute(pending.target), at).catch((error: unknown) => {
          throw this.#writeFailed(at, error);
        });
      }
      created.set(path, pending);
    }
    const dangling = await checkResolvedInside(root, symlinks);
    for (const path of dangling) created.delete(path);
    return { root, topFolder, links: created, dangling };
  }

  async discard(): Promise<void> {
    if (!this.#created) return; // a folder that was there before is not this tree's to remove
    // Cleanup after a failure that is already being reported: a second error here would only hide it.
    await rm(this.staging, { recursive: true, force: true }).catch(() => undefined);
  }

  #noteTop(path: string): void {
    this.#tops.add(path.split("/", 1)[0] as string);
  }

  /** The single top-level folder every kept file and link sits in, or "" (a flat release, or several tops). */
  #topFolder(): string {
    if (this.#tops.size !== 1) return "";
    const [top] = this.#tops as unknown as [string];
    const isFolder = [...this.#files, ...this.#links.keys()].every((path) => path.startsWith(`${top}/`));
    return isFolder ? top : "";
  }

  #absolute(path: string): string {
    return path === "" ? this.staging : posix.join(this.staging, path);
  }

  /** mkdir -p inside the staging directory. Nothing there is a link yet (links come last), so nothing escapes. */
  async #mkdirs(path: string): Promise<void> {
    if (path === "" || path === "." || this.#createdDirs.has(path)) return;
    try {
      await mkdir(this.#absolute(path), { recursive: true });
    } catch (error) {
      if (isSystemError(error) && (error.code === "EEXIST" || error.code === "ENOTDIR")) throw conflicting(path);
      throw this.#writeFailed(this.#absolute(path), error);
    }
    for (let parent = path; parent !== "." && parent !== ""; parent = posix.dirname(parent)) this.#createdDirs.add(parent);
  }

  /**
   * A disk error (full, quota, read-only, permission) while writing `target` becomes the same coded error as a
   * download's (common/disk.ts): where, and how much the release needs at least, the bytes written so far and
   * the rest of this file. Anything else is archive.install-failed.
   */
  #writeFailed(target: string, error: unknown, fileSize = 0): ExecpackError {
    const entry = target.startsWith(`${this.staging}/`) ? target.slice(this.staging.length + 1) : undefined;
    const disk = diskFailure(error, {
      directory: posix.dirname(this.staging),
      what: entry === undefined ? "the release" : `the release (at "${escapeControl(entry)}")`,
      needed: this.#bytes + fileSize,
      atLeast: true,
    });
    return disk ?? installFailed(target, error);
  }

  /** Removes an earlier file or link of the same path; a directory there is a conflict the archive made. */
  async #clear(path: string): Promise<void> {
    const target = this.#absolute(path);
    const stats = await lstat(target).catch(() => undefined);
    if (!stats) return;
    if (stats.isDirectory()) throw conflicting(path);
    await unlink(target);
  }
}

/** A symlink whose target, read from the link's own folder, leaves the release root (or is absolute). */
function refuseEscapingSymlink(path: string, target: string): void {
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (!target.startsWith("/") && resolved !== ".." && !resolved.startsWith("../")) return;
  throw unsafeLink(path, target);
}

/**
 * The lexical check cannot see through a chain of links (`d -> .` then `x -> d/../y`): every symlink is also
 * resolved on disk, one component at a time, and one that passes above the root refuses the archive. One
 * that points at nothing the release holds is left out (returned): a target outside may exist on the dyno.
 */
async function checkResolvedInside(root: string, symlinks: readonly string[]): Promise<string[]> {
  const dangling: string[] = [];
  for (const path of symlinks) {
    const outcome = await resolveUnder(root, path);
    if (outcome === "outside") throw unsafeLink(path, "a target outside the release, through other links");
    if (outcome === "missing") {
      dangling.push(path);
      await unlink(posix.join(root, path));
    }
  }
  return dangling;
}

/** Follows `path` under `root` as the kernel would, but never above `root`. */
async function resolveUnder(root: string, path: string): Promise<"inside" | "outside" | "missing"> {
  const pending = path.split("/").reverse();
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (resolved.length === 0) return "outside";
      resolved.pop();
      continue;
    }
    const here = posix.join(root, ...resolved, part);
    const stats = await lstat(here).catch(() => undefined);
    if (!stats) return "missing";
    if (!stats.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if ((hops += 1) > 40) return "missing"; // a loop: the kernel gives up too (ELOOP)
    const target = await readlink(here);
    if (target.startsWith("/")) return "outside";
    pending.push(...target.split("/").reverse());
  }
  return "inside";
}

async function writeAll(handle: import("node:fs/promises").FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

function unsafeLink(path: string, target: string): ExecpackError {
  return new ExecpackError("archive.unsafe-entry", "The archive holds a link that points outside the release", {
    seen: [`entry: "${escapeControl(path)}" -> "${escapeControl(target)}"`],
    hint:
      "execpack keeps links between files of the release (busybox applets, libfoo.so -> libfoo.so.1) and refuses " +
      "any that points outside it. Use the archive the project publishes for Linux, or report it to the project.",
  });
}

function badHardLink(path: string, target: string): ExecpackError {
  return new ExecpackError("archive.unsafe-entry", "The archive holds a hard link to no file of the release", {
    seen: [`entry: "${escapeControl(path)}" => "${escapeControl(target)}"`],
    hint: "A hard link must name a regular file earlier in the same archive. The release is malformed or hostile.",
  });
}

function conflicting(path: string): ExecpackError {
  return new ExecpackError("archive.unsafe-entry", "The archive holds a path that is both a folder and a file or link", {
    seen: [`entry: "${escapeControl(path)}"`],
    hint: "The release is malformed (or made to overwrite one entry through another). Report it to the project.",
  });
}

/** A failed system call (`code` and `syscall` set): safety.ts has the same test, but importing it would make a cycle. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === "string";
}

export function installFailed(destination: string, cause: unknown): ExecpackError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new ExecpackError("archive.install-failed", `Could not write the release to "${destination}"`, {
    seen: [`error: "${escapeControl(reason)}"`],
    // Disk errors (full, read-only, permission) have codes of their own (#writeFailed); this is what is left.
    hint:
      isSystemError(cause) && (cause.code === "EMFILE" || cause.code === "ENFILE")
        ? "Too many files were open at once; report this to execpack."
        : "Check that the build directory is writable and has free space.",
    cause,
  });
}
