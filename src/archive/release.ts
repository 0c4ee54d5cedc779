/**
 * From the scanned entries of an archive to the installed release: which files are left out, the choice of
 * the binary, the links made (release-tree.ts), and the list of programs the dyno can run. Shared by the
 * zip and tar readers; the single-file downloads take the short way in extract.ts and tar.ts.
 */
import { posix } from "node:path";
import type { ArchiveEntry, ExtractResult, Job, Scanned } from "./types.js";
import { chooseBinary, isSharedLibrary, lastByPath } from "./choose-binary.js";
import type { ElfHeader } from "./elf.js";
import { isRunnableOn } from "./elf.js";
import { isSharedLibraryFile } from "./runnable.js";

/** Builds for another system or architecture: they cannot run on the dyno, so they are not installed. */
export function runsElsewhere(header: ElfHeader | undefined, description: string, job: Pick<Job, "architecture">): boolean {
  if (header) return !isRunnableOn(header, job.architecture);
  return /^(macOS Mach-O|macOS universal|macOS metadata|Windows PE)/.test(description);
}

/** Regular files keep their mode, minus group and other write; a program for the dyno is always 0755. */
export function installedMode(mode: number | undefined, runnable: boolean): number {
  if (runnable) return 0o755;
  return ((mode ?? 0o644) & 0o755) | 0o644;
}

export async function finishRelease(job: Job, scanned: readonly Scanned[], format: string): Promise<ExtractResult> {
  const byPath = lastByPath(scanned);
  markSharedLibraries(job, byPath.values());
  const kept = [...byPath.values()].filter((item) => !item.leftOut);
  // Entries left out are still listed in errors and matched by BINARY_NAME: none of them is runnable here.
  const { chosen, candidates } = chooseBinary(
    [...byPath.values()].map((item) => item.entry),
    { binaryName: job.binaryName, architecture: job.architecture, releaseName: job.releaseName },
  );
  const written = byPath.get(chosen.path)?.written;
  // chooseBinary only returns runnable regular files, and every one of those was written with its hash.
  if (!written?.sha256) throw new Error(`internal: "${chosen.path}" chosen but not written`);
  const layout = await job.tree.finish();
  const underRoot = (path: string): string => (layout.topFolder === "" ? path : path.slice(layout.topFolder.length + 1));
  const runnable = new Set(kept.filter((item) => item.entry.runnable && !isSharedLibrary(item.entry.path)).map((item) => underRoot(item.entry.path)));
  const links = new Map([...layout.links].map(([path, link]) => [path, link.kind === "hardlink" ? underRoot(link.target) : posix.normalize(posix.join(posix.dirname(path), link.target))]));
  const files = kept.filter((item) => item.entry.kind === "file");
  return {
    root: layout.root,
    entry: chosen.path,
    path: underRoot(chosen.path),
    size: written.size,
    sha256: written.sha256,
    format,
    candidates,
    executables: executables(runnable, links),
    leftOut: [...scanned.filter((item) => item.leftOut).map((item) => item.entry.path), ...layout.dangling],
    files: files.length,
    bytes: files.reduce((sum, item) => sum + (item.written?.size ?? 0), 0),
  };
}

/**
 * Libraries not named like one (`app`, `libfoo-1`): an ELF header says "shared" for a PIE program and a
 * library alike, so each runnable file is read again, written, as far as its program headers. A library is
 * neither the binary nor a command: started, it would crash at once.
 */
function markSharedLibraries(job: Job, items: Iterable<Scanned>): void {
  for (const item of items) {
    const { entry } = item;
    if (!entry.runnable || item.leftOut || entry.kind !== "file" || isSharedLibrary(entry.path)) continue;
    if (!isSharedLibraryFile(posix.join(job.tree.staging, entry.path))) continue;
    item.entry = { ...entry, runnable: false, description: `${entry.description} shared library` };
  }
}

/** Runnable files, and links that lead to one (busybox applets, hard links of one program), in path order. */
function executables(runnable: ReadonlySet<string>, links: ReadonlyMap<string, string>): string[] {
  const found = [...runnable];
  for (const path of links.keys()) {
    let target: string | undefined = path;
    for (let hops = 0; hops < 16 && target !== undefined && !runnable.has(target); hops += 1) target = links.get(target);
    if (target !== undefined && runnable.has(target) && !isSharedLibrary(path)) found.push(path);
  }
  return found.sort();
}

export type { ArchiveEntry };
