/**
 * Large release archives for the benches: one ELF that starts as a real program (/usr/bin/true) and is
 * padded to the wanted size with a mix of random bytes, a word-like stream with repeats (what deflate finds
 * in code and string tables) and zero runs, so it compresses roughly like a real release binary. The zip is
 * written by yazl (deflate level 6, like `zip`), the tar.gz by the system `tar -czf` (gzip -6). Built once
 * and kept in os.tmpdir(), keyed by size and mix, so a second run of a bench starts at once.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yazl from "yazl";

export interface FixtureSpec {
  /** Size of the binary inside the archives. */
  binaryBytes: number;
  /** Shares of the padding, summing to 1: incompressible, word-like with repeats, zeros. */
  mix: { random: number; words: number; zeros: number };
  /**
   * Small files beside the binary (default none), 8-64 KiB of word-like text each, in 40 folders: a release that
   * bundles a runtime's library or a web UI's assets.
   */
  files?: number;
}

export interface ReleaseFixture {
  dir: string;
  /** Entry path of the binary inside both archives. */
  entry: string;
  binaryBytes: number;
  zip: string;
  tarGz: string;
}

const ENTRY_DIR = "app_1.0.0_linux_amd64";
const ENTRY = `${ENTRY_DIR}/app`;
const BLOCK = 64 * 1024;

export function fixtureName(spec: FixtureSpec): string {
  const { random, words, zeros } = spec.mix;
  return `execpack-bench-release-v1-${spec.binaryBytes}-${random}-${words}-${zeros}${spec.files ? `-files-${spec.files}` : ""}`;
}

/** The archives for `spec`, from the cache in os.tmpdir() or generated now (a few seconds per 100 MB). */
export async function releaseFixture(spec: FixtureSpec, log: (line: string) => void = () => {}): Promise<ReleaseFixture> {
  const dir = join(tmpdir(), fixtureName(spec));
  const fixture: ReleaseFixture = { dir, entry: ENTRY, binaryBytes: spec.binaryBytes, zip: join(dir, "release.zip"), tarGz: join(dir, "release.tar.gz") };
  if (existsSync(join(dir, "complete"))) return fixture;

  log(`generating a ${(spec.binaryBytes / 1024 ** 2).toFixed(0)} MiB binary and its zip and tar.gz in ${dir} (cached for later runs)`);
  rmSync(dir, { recursive: true, force: true });
  // A sibling staging directory renamed into place: a bench interrupted mid-generation leaves no half fixture.
  const staging = `${dir}.${process.pid}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, ENTRY_DIR), { recursive: true });
  const binary = join(staging, ENTRY);
  await writeBinary(binary, spec);

  const zip = new yazl.ZipFile();
  zip.addFile(binary, ENTRY, { mode: 0o100755, compress: true });
  const vocabulary = Array.from({ length: 4096 }, () => randomBytes(3 + Math.floor(Math.random() * 14)));
  for (let index = 0; index < (spec.files ?? 0); index++) {
    const name = `${ENTRY_DIR}/share/${index % 40}/file-${index}.txt`;
    mkdirSync(join(staging, ENTRY_DIR, "share", String(index % 40)), { recursive: true });
    writeFileSync(join(staging, name), wordBlock(8192 + Math.floor(Math.random() * 57344), vocabulary));
    zip.addFile(join(staging, name), name, { mode: 0o100644, compress: true });
  }
  zip.end();
  await once(zip.outputStream.pipe(createWriteStream(join(staging, "release.zip"))), "close");
  execFileSync("tar", ["-czf", join(staging, "release.tar.gz"), "-C", staging, ENTRY_DIR]);
  rmSync(join(staging, ENTRY_DIR), { recursive: true });

  execFileSync("touch", [join(staging, "complete")]);
  renameSync(staging, dir);
  return fixture;
}

async function writeBinary(path: string, spec: FixtureSpec): Promise<void> {
  const out = createWriteStream(path, { mode: 0o755 });
  const elf = readFileSync("/usr/bin/true");
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error("/usr/bin/true is not an ELF: the fixture needs a real ELF header");
  out.write(elf);
  const vocabulary = Array.from({ length: 4096 }, () => randomBytes(3 + Math.floor(Math.random() * 14)));
  const zeros = Buffer.alloc(BLOCK);
  let written = elf.length;
  while (written < spec.binaryBytes) {
    const size = Math.min(BLOCK, spec.binaryBytes - written);
    const pick = Math.random();
    let block: Buffer;
    if (pick < spec.mix.random) block = randomBytes(size);
    else if (pick < spec.mix.random + spec.mix.words) block = wordBlock(size, vocabulary);
    else block = zeros.subarray(0, size);
    if (!out.write(block)) await once(out, "drain");
    written += size;
  }
  out.end();
  await once(out, "close");
  if (statSync(path).size !== spec.binaryBytes) throw new Error("internal: fixture binary has the wrong size");
}

function wordBlock(size: number, vocabulary: readonly Buffer[]): Buffer {
  const block = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const word = vocabulary[Math.floor(Math.random() * vocabulary.length)]!;
    offset += word.copy(block, offset);
  }
  return block;
}

// ---- shared by the benches ------------------------------------------------------------------------------

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/** GNU time's `-f %M` gives peak RSS in KiB; without it the runner reports its own. */
export const GNU_TIME = existsSync("/usr/bin/time") && /GNU/.test(gnuTimeVersion()) ? "/usr/bin/time" : undefined;

function gnuTimeVersion(): string {
  try {
    return execFileSync("/usr/bin/time", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    // GNU time prints its version on stderr in some builds, and exits non-zero in others.
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    return `${stdout}${stderr}`;
  }
}
