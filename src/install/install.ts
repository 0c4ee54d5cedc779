/**
 * Fetching a release and installing it into the slug: download (verified, cached), extract the whole release
 * (minus builds for other systems), choose its Linux binary for this architecture, then record what was
 * installed. Used by the compile step and, with BINARY_FETCH=boot, at every dyno start.
 *
 * Nothing is half-done: the release is extracted under a staging directory and renamed into place only when
 * everything succeeded, so a failure never replaces a good release.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { BinarySettings } from "../common/config.js";
import { download } from "../fetch/download.js";
import type { DownloadResult } from "../fetch/download.js";
import type { BodyReader } from "../fetch/tee.js";
import { downloadRelease } from "../fetch/github-release.js";
import type { ResolvedRelease } from "../fetch/github-release.js";
import { parseReleaseName } from "../fetch/release-name.js";
import { dynoArchitecture } from "../archive/elf.js";
import { programName } from "../archive/program-name.js";
import { extractRelease, extractReleaseFromStream } from "../archive/extract.js";
import type { ExtractOptions, ExtractResult } from "../archive/extract.js";
import { counted, detail, formatBytes, formatError, warn } from "../common/output.js";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { onDisk } from "../common/disk.js";
import { confirmCache, forgetCache } from "../fetch/cache.js";
import { checkLibraries, debianPackageGuess, stackLibraryFolders } from "../archive/libraries.js";
import { assertExecutable, isDamagedBinary } from "../archive/runnable.js";
import { displayDownloadUrl } from "../common/secrets.js";
import type { InstallManifest, SlugPaths } from "./slug.js";

export interface InstallOptions {
  settings: BinarySettings;
  paths: SlugPaths;
  /** Where downloads are kept between builds (CACHE_DIR/execpack), or a scratch directory. */
  cacheDir: string;
  /** Absolute epoch ms by which the whole fetch must be done (boot-time fetch). */
  deadline?: number;
  log?: (line: string) => void;
  /** Keep the download in `cacheDir` for a conditional request next time (default true). */
  keepCache?: boolean;
  /** The release tag installed before this one when no cache records it (the boot-time fetch: the slug's). */
  installedTag?: string | undefined;
  /** At build time: warn when the binary would not start on a dyno (the boot checks again either way). */
  checkRunnable?: boolean;
  /** Where the install's warnings go (default: stderr). */
  warn?: (message: string) => void;
}

export async function installRelease(options: InstallOptions): Promise<InstallManifest> {
  const kept = options.keepCache === false ? undefined : releaseCacheDir(options.cacheDir);
  try {
    const manifest = await installOnce(options);
    if (kept) await confirmCache(kept);
    return manifest;
  } catch (error) {
    if (!kept || !(error instanceof CachedArchiveUnusable)) throw error;
    // A kept archive that passed its checksum and still does not extract: forget it and fetch in full, once.
    (options.log ?? detail)(`The cached archive could not be installed (${error.cause.code}); downloading it again in full`);
    return installOnce(options);
  }
}

function releaseCacheDir(cacheDir: string): string {
  return join(cacheDir, "release-cache");
}

/** An archive from the build cache failed to install; the entry is gone already. */
class CachedArchiveUnusable extends Error {
  override readonly cause: ExecpackError;
  constructor(cause: ExecpackError) {
    super(cause.message);
    this.cause = cause;
  }
}

async function installOnce(options: InstallOptions): Promise<InstallManifest> {
  const { settings, paths, cacheDir } = options;
  const log = options.log ?? detail;
  onDisk({ directory: cacheDir, what: "the download cache's directory" }, () => mkdirSync(cacheDir, { recursive: true }));
  onDisk({ directory: paths.root, what: "the release's directory" }, () => mkdirSync(paths.root, { recursive: true }));

  // The release is written under a staging directory of its own beside the release root, never inside it:
  // no entry of the archive can meet a name execpack works with. One per try: a download that is retried
  // starts its extraction over in a new one, after the failed try's is removed.
  const stagings: string[] = [];
  const extractOptions = (downloadUrl: string, archivePath: string, contentType?: string): ExtractOptions => {
    const staging = join(paths.root, `staging.${randomBytes(6).toString("hex")}`);
    stagings.push(staging);
    return { archivePath, staging, releaseName: releaseFileName(downloadUrl), binaryName: settings.name, contentType, limits: settings.limits };
  };
  // A tar.gz (any format read in one pass) is extracted while it downloads; the download waits for it.
  let streamed: Promise<ExtractResult | undefined> | undefined;
  const readerFor = (downloadUrl: string): BodyReader => (body) => (streamed = extractReleaseFromStream(extractOptions(downloadUrl, downloadPath(cacheDir)), body));
  let archive: DownloadResult | undefined;
  try {
    const fetched = await fetchArchive(options, log, readerFor);
    archive = fetched.archive;
    const { release } = fetched;
    log(describeDownload(archive));
    const downloadUrl = release?.downloadUrl ?? settings.url;
    // A zip, a cached archive or a download that is no archive: extracted from the file now.
    const extracted = (archive.bodyRead ? await streamed : undefined) ?? (await extractRelease(extractOptions(downloadUrl, archive.path, archive.contentType)));
    const singleFile = SINGLE_FILE_FORMATS.includes(extracted.format);
    const name = singleFile ? installedName(extracted.entry, extracted.format, downloadUrl) : basename(extracted.path);
    const path = singleFile ? name : extracted.path;
    if (singleFile && name !== extracted.path) renameSync(join(extracted.root, extracted.path), join(extracted.root, name));
    const executables = singleFile ? [name] : extracted.executables;
    // Checked in the staging folder, before the release goes into place: the paths are the same under either root.
    const libraries = checkLibraries(extracted.root, executables, stackLibraryFolders(dynoArchitecture()));
    const manifest: InstallManifest = {
      name,
      path,
      entry: singleFile ? name : extracted.entry,
      size: extracted.size,
      sha256: extracted.sha256,
      source: displayDownloadUrl(settings.url),
      format: extracted.format,
      fetch: settings.fetch,
      ...(release ? { release: { repository: release.repository, tag: release.tag, asset: release.asset, verifiedBy: release.verifiedBy ?? null } } : {}),
      commands: commandNames(path, executables),
      ...(libraries.libraryPath.length > 0 ? { libraryPath: libraries.libraryPath } : {}),
    };
    installInPlace(extracted.root, paths, manifest);
    const warnUser = options.warn ?? warn;
    if (options.checkRunnable) warnIfNotRunnable(join(paths.binaryDir, path), warnUser);
    if (options.checkRunnable && libraries.missing.size > 0) warnUser(formatError(missingLibraries(libraries.missing)));
    const from = singleFile ? `'${name}' (${extracted.format === "elf" ? "a bare binary" : `a ${extracted.format}-compressed binary`})` : `'${extracted.entry}' from the ${extracted.format} archive`;
    log(`Installed ${from} (${formatBytes(extracted.size)}, sha256 ${extracted.sha256})`);
    if (!singleFile) log(describeRelease(extracted, manifest));
    return manifest;
  } catch (error) {
    // An archive that does not install must not stay in the build cache: its ETag would bring it back at every
    // build (a damaged body cached once, then 304 forever). Unconfirmed, it would be dropped anyway; this says so now.
    if (options.keepCache !== false && isExecpackError(error) && error.code.startsWith("archive.")) {
      await forgetCache(releaseCacheDir(cacheDir));
      if (archive?.fromCache) throw new CachedArchiveUnusable(error);
    }
    throw error;
  } finally {
    for (const staging of stagings) rmSync(staging, { recursive: true, force: true });
    // The build cache keeps its own link to the archive (fetch/cache.ts); this copy would only take space.
    rmSync(downloadPath(cacheDir), { force: true });
  }
}

/**
 * The libraries the dyno will not have, each with the programs that need it, as a warning: the build goes on
 * (a program that is never run needs nothing), but the first boot of one that is would fail with status 127.
 */
function missingLibraries(missing: ReadonlyMap<string, readonly string[]>): ExecpackError {
  const seen = [...missing].map(([library, programs]) => `${library}, needed by ${programs.slice(0, 4).join(", ")}${programs.length > 4 ? ` and ${programs.length - 4} more` : ""}`);
  const packages = [...new Set([...missing.keys()].map(debianPackageGuess))].join(" ");
  return new ExecpackError("install.missing-libraries", `The dyno will not have ${missing.size === 1 ? "a shared library" : `${missing.size} shared libraries`} the release's programs need`, {
    seen,
    hint:
      "Vendor the libraries in the release (a lib/ folder beside the program: execpack points the loader at it), " +
      "use a static build of the program, or add heroku-buildpack-apt before execpack with an Aptfile listing " +
      `the packages that hold them (Debian's names, guessed from the libraries': ${packages}).`,
  });
}

/**
 * The release and its manifest into place, or neither: the manifest is written beside its place first (the
 * last write that can find the disk full), then the release and the manifest are renamed in.
 */
function installInPlace(stagedRoot: string, paths: SlugPaths, manifest: InstallManifest): void {
  const where = { directory: dirname(paths.manifest), what: "the release's manifest" };
  const pending = `${paths.manifest}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    onDisk(where, () => {
      mkdirSync(dirname(paths.manifest), { recursive: true });
      writeFileSync(pending, `${JSON.stringify(manifest, null, 2)}\n`);
    });
    onDisk({ directory: dirname(paths.binaryDir), what: "the release" }, () => replaceDirectory(stagedRoot, paths.binaryDir));
    onDisk(where, () => renameSync(pending, paths.manifest));
  } finally {
    rmSync(pending, { force: true });
  }
}

/** Moves the staged release root to `destination`; a release already there is removed once the new one is in. */
function replaceDirectory(source: string, destination: string): void {
  const previous = `${destination}.previous.${randomBytes(6).toString("hex")}`;
  mkdirSync(dirname(destination), { recursive: true });
  let moved = false;
  try {
    renameSync(destination, previous);
    moved = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  try {
    renameSync(source, destination);
  } catch (error) {
    if (moved) renameSync(previous, destination); // the release that was there stays
    throw error;
  }
  if (moved) rmSync(previous, { recursive: true, force: true });
}

/** The download's file name from its URL (`prometheus-2.42.0.linux-amd64.tar.gz`), when it has one. */
function releaseFileName(url: string): string | undefined {
  try {
    const name = decodeURIComponent(basename(new URL(url).pathname));
    return name === "" ? undefined : name;
  } catch {
    return undefined; // Not a parsable URL: the release has no name to go by.
  }
}

/**
 * Every program of the release as a command by its own name: the binary first, then the others in path
 * order (a name taken once is not taken again). Names that are not plain file names, or that are execpack's
 * own commands, are left out.
 */
export function commandNames(binaryPath: string, executables: readonly string[]): Record<string, string> {
  const commands: Record<string, string> = {};
  for (const path of [binaryPath, ...executables]) {
    const name = basename(path);
    if (!/^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/.test(name) || RESERVED_COMMANDS.has(name) || name in commands) continue;
    commands[name] = path;
  }
  return commands;
}

const RESERVED_COMMANDS = new Set(["execpack", "execpackctl"]);

/** "Release: 12 files, 210.4 MiB; programs: prometheus, promtool; left out: 3 builds for other systems". */
function describeRelease(extracted: ExtractResult, manifest: InstallManifest): string {
  const commands = Object.keys(manifest.commands ?? {});
  const parts = [`Release: ${counted(extracted.files, "file")}, ${formatBytes(extracted.bytes)}`];
  parts.push(`commands: ${commands.length > 8 ? `${commands.slice(0, 8).join(", ")} and ${commands.length - 8} more` : commands.join(", ")}`);
  if (extracted.leftOut.length > 0) parts.push(`left out: ${extracted.leftOut.length} entries for other systems or architectures, devices or links to nothing`);
  return parts.join("; ");
}

/**
 * BINARY_URL's bytes: the file it names, or, when it names a GitHub release, that release's asset for this
 * dyno, verified by the release's own checksums (fetch/github-release.ts).
 */
async function fetchArchive(
  options: InstallOptions, log: (line: string) => void, readerFor: (downloadUrl: string) => BodyReader,
): Promise<{ archive: DownloadResult; release?: ResolvedRelease }> {
  const { settings, cacheDir } = options;
  const common = {
    destination: downloadPath(cacheDir),
    token: settings.token,
    cache: options.keepCache === false ? undefined : { dir: releaseCacheDir(cacheDir) },
    allowInsecureHttp: settings.allowInsecureHttp,
    timeouts: settings.timeouts,
    deadline: options.deadline,
    onProgress: progressPrinter(log),
    log,
  };
  const name = parseReleaseName(settings.url, settings.githubApiUrl);
  if (name) {
    const stateFile = options.keepCache === false ? undefined : join(cacheDir, "github-release.json");
    const fetched = await downloadRelease({
      ...common, release: name, pin: settings.sha256, assetPattern: settings.asset, architecture: dynoArchitecture(), stateFile, installedTag: options.installedTag,
      readAssetBody: readerFor,
    });
    return { archive: fetched, release: fetched.release };
  }
  log(`Downloading ${displayDownloadUrl(settings.url)}`);
  return { archive: await download({ ...common, url: settings.url, sha256: settings.sha256, readBody: readerFor(settings.url) }) };
}

function downloadPath(cacheDir: string): string {
  return join(cacheDir, "release.download");
}

/**
 * The checks the boot runs before execve, run once at build time too: a binary linked for musl, or a script
 * whose interpreter the stack lacks, is worth hearing about in the build log rather than at the first boot.
 * A warning, not a failure: the build machine is not the dyno, and the boot checks again. A damaged file (cut
 * off) is the exception: no machine can run it, and a build that passed would only fail at every boot.
 */
function warnIfNotRunnable(file: string, warnUser: (message: string) => void): void {
  try {
    assertExecutable(file);
  } catch (error) {
    if (!isExecpackError(error)) throw error;
    if (isDamagedBinary(error)) {
      throw new ExecpackError("archive.corrupt", "The binary in the release is damaged: no machine can run it", { seen: error.seen, hint: error.hint, cause: error });
    }
    warnUser(`${formatError(error)}\n\nThe build goes on, but on a dyno like this build machine the binary would not start.`);
  }
}

/** Formats that hold one file and no name for it: the download itself is the binary. */
const SINGLE_FILE_FORMATS: readonly string[] = ["elf", "gzip", "xz"];

/**
 * Archives name their binary; a bare or single-file download has only its URL's name, and is installed under
 * the program's name in it (`caddy_linux_amd64` → `caddy`, `app-v1.2-linux-x86_64.gz` → `app`), its argv[0].
 */
export function installedName(entry: string, format: string, url: string): string {
  if (!SINGLE_FILE_FORMATS.includes(format)) return basename(entry);
  let fromUrl: string | undefined;
  try {
    fromUrl = programName(decodeURIComponent(basename(new URL(url).pathname)));
  } catch {
    // Not a parsable URL or path: fall back to a fixed name below.
  }
  return fromUrl !== undefined && /^[A-Za-z0-9._+-]+$/.test(fromUrl) ? fromUrl : "binary";
}

function describeDownload(result: DownloadResult): string {
  const origin = result.fromCache ? "cached copy, unchanged upstream" : "downloaded";
  return `Release: ${formatBytes(result.size)}, sha256 ${result.sha256} (${origin})`;
}

/** A line every few seconds: the build log is not a terminal, so no progress bars. */
function progressPrinter(log: (line: string) => void) {
  return ({ bytes, total, rate }: { bytes: number; total?: number; rate: number }) => {
    const percent = total ? ` (${Math.floor((bytes / total) * 100)}%)` : "";
    log(`${formatBytes(bytes)}${total ? ` of ${formatBytes(total)}` : ""}${percent} at ${formatBytes(rate)}/s`);
  };
}

