/**
 * Tar entries node-tar cannot give back as their file, packed by the real GNU tar: sparse files from a file
 * with holes (`truncate -s` and a few written bytes) in every format GNU tar writes them, old GNU (with and
 * without extension headers for a long map) and pax 0.0, 0.1 and 1.0, and the second volume of a multi-volume
 * tar. Each refuses the archive with archive.unsupported-entry naming the file, never installed with the file
 * empty, missing or holding the packed data. The same tree packed without --sparse installs byte for byte.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractRelease } from "../../src/archive/extract.js";
import { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { HOST_ARCHITECTURE, compiledElf } from "../helpers/elf-binary.js";

const GNU_TAR = /GNU tar/.test(spawnSync("tar", ["--version"], { encoding: "utf8" }).stdout ?? "");
const SIZE = 4 * 1024 * 1024;

let work: string;
let count = 0;

/** A file of `SIZE` bytes that is all holes but for a few written bytes at `offsets`. */
function holey(path: string, offsets: readonly number[]): void {
  execFileSync("truncate", ["-s", String(SIZE), path]);
  const fd = openSync(path, "r+");
  try {
    for (const offset of offsets) writeSync(fd, Buffer.from(`data@${offset}`), 0, undefined, offset);
  } finally {
    closeSync(fd);
  }
}

/** `tar -czf` of the tree with `flags`, run by GNU tar. */
function pack(name: string, tree: string, flags: readonly string[]): string {
  const archive = join(work, `${name}.tar.gz`);
  execFileSync("tar", [...flags, "-czf", archive, "-C", join(tree, ".."), "rel"]);
  return archive;
}

async function refusal(archivePath: string): Promise<ExecpackError> {
  count += 1;
  const staging = join(work, `staging-${count}`);
  const error = await extractRelease({ archivePath, staging, architecture: HOST_ARCHITECTURE }).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ExecpackError);
  expect(readdirSync(work)).not.toContain(`staging-${count}`); // nothing was left installed
  return error as ExecpackError;
}

describe.skipIf(!GNU_TAR)("a GNU-sparse tar, packed by GNU tar (skipped where tar is not GNU tar)", () => {
  const trees = { few: [0, 2_000_000, SIZE - 16], many: Array.from({ length: 12 }, (_, index) => index * 300_000) };
  const program = compiledElf("pie")!;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "execpack-sparse-"));
    for (const [tree, offsets] of Object.entries(trees)) {
      const rel = join(work, tree, "rel");
      mkdirSync(rel, { recursive: true });
      writeFileSync(join(rel, "app"), program, { mode: 0o755 });
      holey(join(rel, "data.bin"), offsets);
    }
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it.each([
    ["old GNU, a map in the header", "few", ["--sparse", "--format=gnu"], "old GNU"],
    ["old GNU, a map long enough for extension headers", "many", ["--sparse", "--format=gnu"], "old GNU"],
    ["pax, GNU tar's default sparse format", "few", ["--sparse", "--format=posix"], "pax 1.0"],
    ["pax 0.0", "few", ["--sparse", "--format=posix", "--sparse-version=0.0"], "pax 0.0"],
    ["pax 0.1", "few", ["--sparse", "--format=posix", "--sparse-version=0.1"], "pax 0.1"],
    ["pax 1.0", "many", ["--sparse", "--format=posix", "--sparse-version=1.0"], "pax 1.0"],
  ])("%s: refused with archive.unsupported-entry naming the file, nothing installed", async (name, tree, flags, format) => {
    const error = await refusal(pack(name.replace(/\W+/g, "-"), join(work, tree, "rel"), flags));
    const text = formatError(error);
    expect(error.code, text).toBe("archive.unsupported-entry");
    expect(text).toContain(`entry: "rel/data.bin" (GNU tar sparse file, ${format} format)`);
    expect(text).toContain("--sparse");
  });

  it.each([
    ["gnu", ["--format=gnu"]],
    ["pax", ["--format=posix"]],
  ])("the same tree packed without --sparse (%s) installs the file byte for byte", async (name, flags) => {
    const archivePath = pack(`plain-${name}`, join(work, "few", "rel"), flags);
    const result = await extractRelease({ archivePath, staging: join(work, `plain-staging-${name}`), architecture: HOST_ARCHITECTURE });
    expect(readFileSync(join(result.root, "data.bin")).equals(readFileSync(join(work, "few", "rel", "data.bin")))).toBe(true);
    expect(result.entry).toBe("rel/app");
  });
});

describe.skipIf(!GNU_TAR)("a volume of a multi-volume tar, packed by GNU tar (skipped where tar is not GNU tar)", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "execpack-multi-volume-"));
    const rel = join(work, "rel");
    mkdirSync(rel);
    writeFileSync(join(rel, "data.bin"), Buffer.alloc(300_000, 7));
    writeFileSync(join(rel, "app"), compiledElf("pie")!, { mode: 0o755 });
    // 200 KiB volumes: data.bin begins in the first and ends in the second, which then holds app whole.
    execFileSync("tar", ["-c", "--multi-volume", "--tape-length=200", "-f", join(work, "v1.tar"), "-f", join(work, "v2.tar"), "-C", work, "rel"]);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("the second volume: refused with archive.unsupported-entry, not installed without the file begun in the first", async () => {
    const error = await refusal(join(work, "v2.tar"));
    const text = formatError(error);
    expect(error.code, text).toBe("archive.unsupported-entry");
    expect(text).toContain('entry: "rel/data.bin" (continued from another volume)');
  });
});
