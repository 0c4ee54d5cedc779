/**
 * The shapes the archive modules share: what extractRelease is given and returns (extract.ts re-exports
 * those), what each entry of an archive is, and the job every reader works on.
 */
import type { Architecture } from "./elf.js";
import type { ReleaseTree } from "./release-tree.js";

export type ArchiveFormat = "zip" | "tar.gz" | "tar.xz" | "gzip" | "tar" | "elf";

export interface ExtractOptions {
  /** The downloaded file. */
  archivePath: string;
  /** A directory that must not exist yet: the release is written under it, and it is execpack's alone. */
  staging: string;
  /**
   * The release's own name: the download's file name from its URL (`prometheus-2.42.0.linux-amd64.tar.gz`).
   * A binary named like it is the obvious one to run; a single-file download is installed under it.
   */
  releaseName?: string;
  /** BINARY_NAME: an exact entry path, a basename, or a glob (`*`, `?`, `**`) matched against entry paths. */
  binaryName?: string;
  /** Defaults to dynoArchitecture(). */
  architecture?: Architecture;
  /** Archive-bomb bounds: uncompressed bytes (default 2 GiB) and entries (default 10,000). */
  limits?: { maxTotalBytes?: number; maxEntries?: number };
  /** The Content-Type the server sent, shown when the download is not an archive. */
  contentType?: string;
}

export interface ExtractResult {
  /** Absolute path of the release root, inside the staging directory (a single top folder stripped). */
  root: string;
  /** The archive entry chosen as the binary; for a bare or single compressed binary, its file name. */
  entry: string;
  /** The chosen binary's path under `root`. */
  path: string;
  size: number;
  /** SHA-256 (hex) of the chosen binary. */
  sha256: string;
  /** The format read: an ArchiveFormat, or "xz" for a single xz-compressed binary. */
  format: string;
  /** Every entry that would run on the architecture, in archive order (archive paths). */
  candidates: string[];
  /** Paths under `root` of every program the dyno can run: ELF files for it and links to them, libraries aside. */
  executables: string[];
  /** Archive paths left out: builds for other systems or architectures, devices, links to nothing. */
  leftOut: string[];
  /** Regular files written, and their bytes. */
  files: number;
  bytes: number;
}

/** What each entry of an archive is, as far as choosing and reporting need. */
export interface ArchiveEntry {
  /** Normalised: no "./" prefix, no trailing "/". */
  path: string;
  kind: "file" | "directory" | "symlink" | "hardlink" | "device";
  /** For messages: "text", "ELF aarch64", "Windows PE", "symlink to \"app\"". */
  description: string;
  /** A regular file holding an ELF the dyno can run. */
  runnable: boolean;
}

/** ExtractOptions with every default applied: what the zip and tar readers work from. */
export interface Job {
  archivePath: string;
  tree: ReleaseTree;
  releaseName: string | undefined;
  binaryName: string | undefined;
  architecture: Architecture;
  maxTotalBytes: number;
  maxEntries: number;
}

/** One entry as a reader saw it, and what was written for it. */
export interface Scanned {
  entry: ArchiveEntry;
  /** Size and hash when the entry was written as a runnable candidate. */
  written?: { size: number; sha256: string | undefined };
  /** Not installed: a build for another system or architecture, a device or a pipe. */
  leftOut?: boolean;
}
