/**
 * Choosing the binary to install from what an archive holds, and the errors that say why none could be
 * chosen. Pure: the readers (zip.ts, tar.ts) list the entries, this decides.
 */
import type { ArchiveEntry } from "./types.js";
import { normalizeEntryPath } from "./safety.js";
import { describeFile, isRunnableOn, readElfHeader } from "./elf.js";
import type { Architecture } from "./elf.js";
import { ExecpackError } from "../common/errors.js";
import { escapeControl, shellWord } from "../common/output.js";
import { programName } from "./program-name.js";
import { globToRegExp } from "../common/glob.js";

/** Entries listed in an error before "... and N more". */
const LISTED_ENTRIES = 20;

export interface Choice {
  chosen: ArchiveEntry;
  /** Every runnable entry (shared libraries aside), in archive order. */
  candidates: string[];
}

/**
 * Picks the binary to install. BINARY_NAME narrows the entries; among runnable candidates, those whose path
 * names Linux and the architecture ("linux", "amd64"...) win. Throws when nothing or several remain.
 */
export function chooseBinary(
  entries: readonly ArchiveEntry[],
  options: { binaryName?: string | undefined; architecture: Architecture; releaseName?: string | undefined },
): Choice {
  const { binaryName, architecture } = options;
  const candidates = entries.filter((entry) => entry.runnable && !isSharedLibrary(entry.path));
  let pool = candidates;
  if (binaryName !== undefined) {
    const matched = selectByBinaryName(entries, binaryName);
    if (matched.length === 0) throw binaryNameNotFound(binaryName, entries, architecture);
    pool = matched.filter((entry) => entry.runnable);
    if (pool.length === 0) throw notRunnableMatch(binaryName, matched, architecture);
  }
  if (pool.length === 0) throw noLinuxBinary(options, entries, { single: false });
  let best = preferred(pool, architecture);
  if (best.length > 1) {
    const named = namedLikeRelease(best, releaseNames(entries, options.releaseName));
    if (named.length === 1) best = named;
  }
  if (best.length > 1) throw ambiguous(best, entries, architecture);
  return { chosen: best[0] as ArchiveEntry, candidates: candidates.map((entry) => entry.path) };
}

/** A download that is a single file (maybe compressed, `packing` says how) must itself be the binary. */
export function requireRunnable(job: { architecture: Architecture }, name: string, head: Uint8Array, packing: string): void {
  const header = readElfHeader(head);
  if (header && isRunnableOn(header, job.architecture)) return;
  const description = `${packing}${describeFile(head)}`;
  throw noLinuxBinary(job, [{ path: name, kind: "file", description, runnable: false }], { single: true });
}

/** When an archive holds a path twice, the last one wins, as when extracting it. Archive order is kept. */
export function lastByPath<T extends { entry: ArchiveEntry }>(items: readonly T[]): Map<string, T> {
  const byPath = new Map<string, T>();
  for (const item of items) {
    byPath.delete(item.entry.path);
    byPath.set(item.entry.path, item);
  }
  return byPath;
}

function releaseNames(entries: readonly ArchiveEntry[], releaseName: string | undefined): Set<string> {
  const names = new Set<string>();
  const tops = new Set(entries.map((entry) => entry.path.split("/", 1)[0] as string));
  const top = tops.size === 1 && entries.some((entry) => entry.path.includes("/")) ? [...tops][0] : undefined;
  for (const name of [releaseName, top]) {
    const program = name === undefined ? undefined : programName(name);
    if (program !== undefined) names.add(program);
  }
  return names;
}

/** Candidates whose file name is the release's own name: `prometheus` in prometheus-2.42.0.linux-amd64/. */
function namedLikeRelease(pool: readonly ArchiveEntry[], names: ReadonlySet<string>): ArchiveEntry[] {
  return pool.filter((entry) => names.has(baseName(entry.path)) || names.has(programName(baseName(entry.path)) ?? ""));
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The candidates whose path says the most about being for Linux on this architecture. */
function preferred(pool: readonly ArchiveEntry[], architecture: Architecture): ArchiveEntry[] {
  const score = (entry: ArchiveEntry): number =>
    Number(/(^|[^a-z])linux/i.test(entry.path)) + Number(ARCHITECTURE_NAMES[architecture].test(entry.path));
  const top = Math.max(...pool.map(score));
  return pool.filter((entry) => score(entry) === top);
}

const ARCHITECTURE_NAMES: Record<Architecture, RegExp> = {
  x86_64: /(^|[^a-z0-9])(amd64|x86[_-]64|x64)($|[^a-z0-9])/i,
  aarch64: /(^|[^a-z0-9])(arm64|aarch64)($|[^a-z0-9])/i,
};

/** libfoo.so, libfoo.so.1.2: ELF like a PIE program, never what a release means to run. */
export function isSharedLibrary(path: string): boolean {
  return /\.so(\.\d+)*$/.test(path);
}

/** An exact path wins; otherwise a glob, or a plain name compared with each entry's basename. */
function selectByBinaryName(entries: readonly ArchiveEntry[], binaryName: string): ArchiveEntry[] {
  const wanted = normalizeEntryPath(binaryName);
  const exact = entries.filter((entry) => entry.path === wanted);
  if (exact.length > 0) return exact;
  return entries.filter((entry) => entry.kind !== "directory" && matchesBinaryName(entry.path, binaryName));
}

/** BINARY_NAME as exact path, basename, or glob. A glob without "/" may also match just the basename. */
export function matchesBinaryName(path: string, binaryName: string): boolean {
  const wanted = normalizeEntryPath(binaryName);
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (!/[*?]/.test(wanted)) return path === wanted || name === wanted;
  const pattern = globToRegExp(wanted);
  return pattern.test(path) || (!wanted.includes("/") && pattern.test(name));
}

// ---------------------------------------------------------------------------------------------------------
// Errors: each lists what the archive holds, so the user can name the right entry

function architectureLabel(architecture: Architecture): string {
  return architecture === "x86_64" ? "x86_64 (amd64)" : "aarch64 (arm64)";
}

function assetLabel(architecture: Architecture): string {
  return architecture === "x86_64" ? "linux-amd64 / linux-x86_64" : "linux-arm64 / linux-aarch64";
}

/** One line per entry, "path (what it is)", directories left out, at most LISTED_ENTRIES lines. */
function listEntries(entries: readonly ArchiveEntry[]): string[] {
  const files = entries.filter((entry) => entry.kind !== "directory");
  if (files.length === 0) return ["(no files in the archive)"];
  // Entry names come from the archive: control characters in them are shown escaped, never acted on.
  const lines = files.slice(0, LISTED_ENTRIES).map((entry) => `"${escapeControl(entry.path)}" (${escapeControl(entry.description)})`);
  if (files.length > LISTED_ENTRIES) lines.push(`... and ${files.length - LISTED_ENTRIES} more`);
  return lines;
}

export function noLinuxBinary(
  job: { architecture: Architecture },
  entries: readonly ArchiveEntry[],
  { single }: { single: boolean },
): ExecpackError {
  const label = architectureLabel(job.architecture);
  const summary = single ? `The download is not a Linux ${label} binary` : `The archive holds no Linux ${label} binary`;
  return new ExecpackError("archive.no-linux-binary", summary, {
    seen: listEntries(entries),
    hint: `The dyno runs Linux on ${label}. Point BINARY_URL at the project's ${assetLabel(job.architecture)} release asset.`,
  });
}

function notRunnableMatch(binaryName: string, matched: readonly ArchiveEntry[], architecture: Architecture): ExecpackError {
  const label = architectureLabel(architecture);
  const link = matched.find((entry) => entry.kind === "symlink" || entry.kind === "hardlink" || entry.kind === "device");
  if (link) {
    const what = link.kind === "device" ? "device file" : "link";
    return new ExecpackError("archive.unsafe-entry", `BINARY_NAME "${escapeControl(binaryName)}" names a ${what}, which execpack does not install`, {
      seen: listEntries(matched),
      hint: "Set BINARY_NAME to the regular file itself (the link's target), not to a link or a device.",
    });
  }
  // A script is installed with the release but is never the main program: `execpack` execs an ELF binary,
  // checked for this dyno's machine. Saying so saves a guess at the cause.
  const script = matched.some((entry) => entry.description.startsWith("script"));
  return new ExecpackError("archive.no-linux-binary", `BINARY_NAME "${escapeControl(binaryName)}" matches no Linux ${label} binary`, {
    seen: listEntries(matched),
    hint:
      (script ? "A script is never the main program (it is still installed with the release, under $BINARY_HOME): name the Linux binary it starts. " : "") +
      `Set BINARY_NAME to the Linux ${label} executable in the archive, or unset it to let execpack find it.`,
  });
}

function binaryNameNotFound(binaryName: string, entries: readonly ArchiveEntry[], architecture: Architecture): ExecpackError {
  return new ExecpackError("archive.binary-name-not-found", `BINARY_NAME "${escapeControl(binaryName)}" matches no entry in the archive`, {
    seen: listEntries(entries),
    hint:
      'Set BINARY_NAME to one of the paths above (an exact path, a file name, or a glob such as "*/server"), ' +
      `or unset it to let execpack pick the Linux ${architectureLabel(architecture)} binary.`,
  });
}

function ambiguous(best: readonly ArchiveEntry[], entries: readonly ArchiveEntry[], architecture: Architecture): ExecpackError {
  const label = architectureLabel(architecture);
  const summary = `The archive holds ${best.length} Linux ${label} binaries and none is clearly the one to run`;
  // Quoted for the shell (common/output.ts shellWord): a name such as b/$(touch x) must paste as text.
  const examples = best
    .slice(0, 3)
    .map((entry) => shellWord(lastingName(entry, entries)))
    .filter((word) => word !== undefined);
  const suggestion =
    examples.length === 0
      ? "Set BINARY_NAME to the one to run. No command is suggested: these names hold control characters, which a pasted command would not carry."
      : `Set BINARY_NAME to the one to run, by a name that survives the next version, for example: ` +
        `heroku config:set BINARY_NAME=${examples[0]}` +
        (examples.length > 1 ? ` (or ${examples.slice(1).join(", ")})` : "") +
        ".";
  return new ExecpackError("archive.ambiguous", summary, {
    seen: listEntries(best),
    hint: `${suggestion} The other programs of the release stay installed and on PATH.`,
  });
}

/**
 * A BINARY_NAME for `entry` that the next release will still match: its file name when no other entry has
 * that name, else its path with every versioned folder turned into a `*` glob segment.
 */
export function lastingName(entry: ArchiveEntry, entries: readonly ArchiveEntry[]): string {
  const name = baseName(entry.path);
  const sameName = entries.filter((other) => other.kind !== "directory" && baseName(other.path) === name);
  if (sameName.length === 1 && !/\d+\.\d+/.test(name)) return name;
  const segments = entry.path.split("/").map((segment) => (/\d+\.\d+|^v\d/.test(segment) ? "*" : segment));
  return segments.join("/");
}

