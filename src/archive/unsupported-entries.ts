/**
 * Tar entries node-tar cannot give back as the file they stand for, which would be installed wrong or not at
 * all without a word, so an archive holding one is refused with its own code:
 * - GNU tar's sparse files (`tar --sparse`, `-S`): only the parts of a file that are not holes are stored, with
 *   a map saying where they go. An old-GNU sparse entry (type `S`) is skipped as an unknown type, and a pax one
 *   (formats 0.0, 0.1 and 1.0) reads as a regular file holding the packed data (and, in 1.0, the map), under a
 *   `GNUSparseFile.<pid>/` name. Recognised from the entry's type and the raw text of the pax header before it.
 * - The rest of a file begun in another volume of a multi-volume tar (type `M`), skipped as unknown too.
 */
import { ExecpackError } from "../common/errors.js";
import { escapeControl } from "../common/output.js";

/** The pax records GNU tar writes for a sparse file, each "LENGTH GNU.sparse.KEY=VALUE\n". */
const SPARSE_RECORD = /(?:^|\n)\d+ GNU\.sparse\.([a-z]+)=([^\n]*)/g;

export interface SparseEntry {
  /** The file's real name, when the pax header gives it (formats 0.1 and 1.0 store the data under another). */
  name: string | undefined;
  /** "pax 1.0", "pax 0.1", "pax 0.0" or "old GNU". */
  format: string;
}

/** The sparse file a pax header announces for the next entry, or undefined when it is an ordinary header. */
export function sparseFromPax(headerText: string): SparseEntry | undefined {
  const records = new Map<string, string>();
  for (const [, key, value] of headerText.matchAll(SPARSE_RECORD)) records.set(key as string, value as string);
  if (records.size === 0) return undefined;
  const major = records.get("major");
  const format = major !== undefined ? `pax ${major}.${records.get("minor") ?? "0"}` : records.has("map") ? "pax 0.1" : "pax 0.0";
  return { name: records.get("name"), format };
}

/** node-tar's type for an old-GNU sparse entry, which it skips as one it does not know. */
export function isOldGnuSparse(type: string): boolean {
  return type === "SparseFile";
}

export function unsupportedSparse(path: string, sparse: SparseEntry): ExecpackError {
  return new ExecpackError("archive.unsupported-entry", "The archive holds a sparse file, which execpack cannot rebuild", {
    seen: [`entry: "${escapeControl(sparse.name ?? path)}" (GNU tar sparse file, ${sparse.format} format)`],
    hint:
      "GNU tar's --sparse (-S) stores only the parts of a file that are not holes; installed as stored, the file " +
      "would be wrong or missing, so nothing was installed. Use the project's zip, or ask it to pack the release " +
      "without --sparse.",
  });
}

/** node-tar's type for the rest of a file begun in another volume (`tar --multi-volume`), which it skips. */
export function isContinuation(type: string): boolean {
  return type === "ContinuationFile";
}

export function unsupportedContinuation(path: string): ExecpackError {
  return new ExecpackError("archive.unsupported-entry", "The archive is one volume of a multi-volume tar: a file in it is only a part", {
    seen: [`entry: "${escapeControl(path)}" (continued from another volume)`],
    hint: "A release is one archive, not a volume of several (tar --multi-volume). Point BINARY_URL at the whole release.",
  });
}
