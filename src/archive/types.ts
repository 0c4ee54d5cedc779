/**
 * The shapes the archive modules share: what extractBinary is given and returns (extract.ts re-exports
 * those), what each entry of an archive is, and the job every reader works on.
 */
import type { Architecture } from "./elf.js";

export type ArchiveFormat = "zip" | "tar.gz" | "tar.xz" | "gzip" | "tar" | "elf";

export interface ExtractOptions {
  /** The downloaded file. */
  archivePath: string;
  /** Final path of the installed binary. A temp file beside it is renamed over it once complete. */
  destination: string;
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
  /** The entry installed; for a bare or single compressed binary, the download's file name. */
  entry: string;
  size: number;
  /** SHA-256 (hex) of the installed binary. */
  sha256: string;
  /** The format read: an ArchiveFormat, or "xz" for a single xz-compressed binary. */
  format: string;
  /** Every entry that would run on the architecture, in archive order. */
  candidates: string[];
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
  destination: string;
  binaryName: string | undefined;
  architecture: Architecture;
  maxTotalBytes: number;
  maxEntries: number;
}
