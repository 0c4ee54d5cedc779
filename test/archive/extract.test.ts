import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { detectFormat, extractRelease } from "../../src/archive/extract.js";
import type { ExtractOptions, ExtractResult } from "../../src/archive/extract.js";
import { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import {
  ASSET_ARCH,
  HELLO_OUTPUT,
  HOST_ARCHITECTURE,
  OTHER_ARCHITECTURE,
  elfHeader,
  helloElf,
  machO,
  sha256,
  shellScript,
  windowsPe,
} from "../helpers/elf-binary.js";
import { file, gz, renameInZip, tar, tarGz, tarXz, xz, zip } from "../helpers/release-archives.js";
import type { Entry } from "../helpers/release-archives.js";

const ELF = helloElf();
const OTHER_ELF = elfHeader({ machine: OTHER_ARCHITECTURE });
const HOST = ASSET_ARCH[HOST_ARCHITECTURE]; // "amd64" on x86_64
const OTHER = ASSET_ARCH[OTHER_ARCHITECTURE];
const GOOD_BINARY = Buffer.from("the binary the previous build installed\n");

let workdir: string;
let staging: string;

beforeEach(async () => {
  workdir = await mkdtemp(join(tmpdir(), "execpack-archive-"));
  staging = join(workdir, "slug", "staging.1");
});

afterEach(async () => {
  await rm(workdir, { recursive: true, force: true });
});

async function download(bytes: Buffer, name = "release.download"): Promise<string> {
  const path = join(workdir, "downloads", name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return path;
}

async function extract(bytes: Buffer, options: Partial<ExtractOptions> = {}): Promise<ExtractResult> {
  return extractRelease({ archivePath: await download(bytes), staging, architecture: HOST_ARCHITECTURE, ...options });
}

/** The chosen binary, where the release root holds it. */
function installedBinary(result: ExtractResult): string {
  return join(result.root, result.path);
}

async function expectInstalled(result: ExtractResult, entry: string): Promise<void> {
  expect(result.entry).toBe(entry);
  expect(await readFile(installedBinary(result))).toEqual(ELF);
  expect(result).toMatchObject({ size: ELF.length, sha256: sha256(ELF) });
  expect((await stat(installedBinary(result))).mode & 0o777).toBe(0o755);
}

interface Refusal {
  code: string;
  /** Words the whole printed error must contain: summary, seen lines and hint. */
  words: readonly string[];
}

/** Every refusal leaves the release of the previous build exactly as it was, and no staging folder behind. */
async function expectRefusal(bytes: Buffer, options: Partial<ExtractOptions>, expected: Refusal): Promise<ExecpackError> {
  const previous = join(dirname(staging), "binary", "server");
  await mkdir(dirname(previous), { recursive: true });
  await writeFile(previous, GOOD_BINARY, { mode: 0o755 });
  const error = await extract(bytes, options).then(
    () => expect.fail("extraction should have failed"),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ExecpackError);
  const refusal = error as ExecpackError;
  const text = formatError(refusal);
  expect(refusal.code, text).toBe(expected.code);
  for (const word of expected.words) expect(text).toContain(word);
  expect(await readFile(previous)).toEqual(GOOD_BINARY);
  expect(await readdir(dirname(staging))).toEqual(["binary"]);
  return refusal;
}

// ---------------------------------------------------------------------------------------------------------

describe("detectFormat", () => {
  it.each([
    ["zip", () => zip([file("app", ELF)])],
    ["zip", () => zip([])],
    ["tar.gz", () => tarGz([file("app", ELF)])],
    ["gzip", () => gz(ELF)],
    ["tar.xz", () => tarXz([file("app", ELF)])],
    ["tar", () => tar([file("app", ELF)])],
    ["elf", () => ELF],
    ["elf", () => OTHER_ELF],
    [undefined, () => Buffer.from("<!DOCTYPE html><html><body>Not Found</body></html>")],
    [undefined, () => Buffer.from('{"message":"Not Found"}')],
    [undefined, () => machO()],
    [undefined, () => Buffer.alloc(0)],
  ])("recognises %s", async (expected, build) => {
    const bytes = await build();
    expect(detectFormat(bytes.subarray(0, 64 * 1024))).toBe(expected);
  });

  it("tells a gzipped tar from a gzipped binary with only the first bytes", () => {
    expect(detectFormat(tarGz([file("app", ELF)]).subarray(0, 200))).toBe("tar.gz");
    expect(detectFormat(gz(ELF).subarray(0, 200))).toBe("gzip");
  });
});

describe("extractBinary installs the Linux binary", () => {
  const release: Entry[] = [file("README.md", "# app\n"), file(`app_1.0_linux_${HOST}/app`, ELF)];

  it.each([
    ["zip", () => zip(release), `app_1.0_linux_${HOST}/app`],
    ["zip", () => zip(release, { compress: false }), `app_1.0_linux_${HOST}/app`],
    ["tar.gz", () => tarGz(release), `app_1.0_linux_${HOST}/app`],
    ["tar.xz", () => tarXz(release), `app_1.0_linux_${HOST}/app`],
    ["tar", () => tar(release), `app_1.0_linux_${HOST}/app`],
    ["elf", () => ELF, "release.download"],
    ["gzip", () => gz(ELF), "release.download"],
    ["xz", () => xz(ELF), "release.download"],
  ])("from %s", async (format, build, entry) => {
    const result = await extract(await build());
    expect(result.format).toBe(format);
    await expectInstalled(result, entry);
  });

  it("installs a binary that runs", async () => {
    const result = await extract(await zip(release));
    expect(execFileSync(installedBinary(result), { encoding: "utf8" }).trim()).toBe(HELLO_OUTPUT);
  });


  it.each([
    ["tar.gz", () => tarGz([file("app", ELF, 0o644)])],
    ["zip", () => zip([file("app", ELF, 0o600)])],
  ])("makes the binary executable although the %s lost its mode", async (_format, build) => {
    await expectInstalled(await extract(await build()), "app");
  });

  it("picks the Linux binary for the dyno out of a multi-platform zip", async () => {
    const result = await extract(
      await zip([
        file("README.md", "# app\n"),
        file("LICENSE", "MIT\n"),
        file("install.sh", shellScript()),
        file(`app-darwin-arm64/app`, machO()),
        file(`app-windows-${HOST}/app.exe`, windowsPe()),
        file(`app-linux-${OTHER}/app`, OTHER_ELF),
        file(`app-linux-${HOST}/app`, ELF),
      ]),
    );
    await expectInstalled(result, `app-linux-${HOST}/app`);
    expect(result.candidates).toEqual([`app-linux-${HOST}/app`]);
  });

  it("prefers the candidate whose name says Linux and the architecture", async () => {
    const result = await extract(
      tarGz([file("tools/debug-helper", ELF), file(`app-linux-${HOST}`, ELF), file(`app-${HOST}`, ELF)]),
    );
    await expectInstalled(result, `app-linux-${HOST}`);
    expect(result.candidates).toEqual(["tools/debug-helper", `app-linux-${HOST}`, `app-${HOST}`]);
  });

  it("leaves shared libraries aside", async () => {
    await expectInstalled(await extract(tarGz([file("lib/libapp.so.1", ELF), file("bin/app", ELF)])), "bin/app");
  });

  it.each([
    ["v1", [file(`fleet_v1.0.0_linux_${HOST}/fleet`, ELF)], `fleet_v1.0.0_linux_${HOST}/fleet`],
    ["v2 renamed the binary", [file(`fleet-2.0.0-linux/fleet-server`, ELF), file("fleet-2.0.0-linux/NOTES.md", "new name")], "fleet-2.0.0-linux/fleet-server"],
    ["v3 flattened the layout", [file("fleet", ELF), file("fleet.sha256", "abc  fleet\n")], "fleet"],
  ])("keeps deploying across releases: %s", async (_release, entries, entry) => {
    await expectInstalled(await extract(await zip(entries)), entry);
  });

  it("takes the last of duplicate tar entries, as tar does", async () => {
    await expectInstalled(await extract(tar([file("app", OTHER_ELF), file("app", ELF)])), "app");
  });

  it.each([
    ["a zip", (entries: Entry[]) => zip(entries)],
    ["a tar.gz", (entries: Entry[]) => tarGz(entries)],
  ])("installs every file of %s of many small ones and large ones, with its bytes and mode, whichever way each is read", async (_format, build) => {
    // Small files are read and written whole with synchronous calls, files over 1 MiB are streamed (byte-stream.ts).
    const large = Buffer.concat([ELF, Buffer.alloc(3 * 1024 * 1024, "large file ")]);
    const entries: Entry[] = [
      file("app", large),
      ...Array.from({ length: 300 }, (_, index) => file(`share/${index % 7}/f${index}.txt`, `file ${index} `.repeat(index + 1), index % 3 === 0 ? 0o755 : 0o644)),
      file("share/big.dat", Buffer.alloc(2 * 1024 * 1024 + 7, 7)),
      file("share/empty", ""),
    ];
    const result = await extract(await build(entries));
    expect(result.entry).toBe("app");
    expect(result).toMatchObject({ size: large.length, sha256: sha256(large), files: 303 });
    for (const entry of entries) {
      if (!("content" in entry)) continue;
      const path = join(result.root, entry.path);
      expect(sha256(await readFile(path)), entry.path).toBe(sha256(Buffer.from(entry.content))); // toEqual on MBs of Buffer is slow
      if (entry.path !== "app") expect((await stat(path)).mode & 0o777, entry.path).toBe(entry.mode ?? 0o644);
    }
  });
});

describe("BINARY_NAME", () => {
  const twoBinaries: Entry[] = [
    file("README.md", "# two\n"),
    file("bin/server", ELF),
    file("bin/worker", ELF),
    file(`bin/server-linux-${OTHER}`, OTHER_ELF),
    { path: "bin/current", symlink: "server" },
  ];

  it.each([
    ["an exact path", "bin/worker", "bin/worker"],
    ["an exact path with ./", "./bin/server", "bin/server"],
    ["a basename", "worker", "bin/worker"],
    ["a glob on the basename", "work*", "bin/worker"],
    ["a glob on the path", "bin/serv?r", "bin/server"],
    ["a ** glob", "**/worker", "bin/worker"],
    ["a glob matching a binary and other files", "*server*", "bin/server"],
  ])("chooses by %s (%s)", async (_kind, binaryName, entry) => {
    for (const build of [() => tarGz(twoBinaries), () => zip(twoBinaries.filter((e) => !("symlink" in e)))]) {
      await expectInstalled(await extract(await build(), { binaryName }), entry);
      await rm(staging, { recursive: true });
    }
  });

  it.each<[string, string, Refusal]>([
    ["matches nothing", "bin/api", { code: "archive.binary-name-not-found", words: ['BINARY_NAME "bin/api" matches no entry', '"bin/server" (ELF', '"README.md" (text)', "unset it"] }],
    ["names a README", "README.md", { code: "archive.no-linux-binary", words: ['BINARY_NAME "README.md" matches no Linux', '"README.md" (text)'] }],
    ["names another architecture", `server-linux-${OTHER}`, { code: "archive.no-linux-binary", words: [`"bin/server-linux-${OTHER}" (ELF ${OTHER_ARCHITECTURE})`] }],
    ["names a symlink", "current", { code: "archive.unsafe-entry", words: ['BINARY_NAME "current" names a link', '"bin/current" (symlink to "server")', "the link's target"] }],
    ["names a script", "run.sh", { code: "archive.no-linux-binary", words: ['"bin/run.sh" (script (#!/bin/sh))', "A script is never the main program", "name the Linux binary it starts"] }],
  ])("refuses a BINARY_NAME that %s", async (_case, binaryName, expected) => {
    await expectRefusal(tarGz([...twoBinaries, file("bin/run.sh", "#!/bin/sh\nexec \"$(dirname \"$0\")/server\"\n")]), { binaryName }, expected);
  });
});

describe("extractBinary refuses", () => {
  const ambiguous: Entry[] = [file("bin/server", ELF), file("bin/worker", ELF), file("README.md", "hi")];

  it.each([
    ["tar.gz", () => tarGz(ambiguous)],
    ["zip", () => zip(ambiguous)],
  ])("an ambiguous %s, listing the candidates and suggesting BINARY_NAME", async (_format, build) => {
    const error = await expectRefusal(await build(), {}, {
      code: "archive.ambiguous",
      words: [`2 Linux ${HOST_ARCHITECTURE}`, '"bin/server"', '"bin/worker"', "BINARY_NAME=server (or worker)", "survives the next version"],
    });
    expect(error.seen).toEqual([`"bin/server" (ELF ${HOST_ARCHITECTURE})`, `"bin/worker" (ELF ${HOST_ARCHITECTURE})`]);
  });

  const noLinux: Entry[] = [
    { path: "app/", directory: true },
    file("app/README.md", "# app\n"),
    file("app/app.exe", windowsPe()),
    file("app/app-darwin", machO()),
    file("app/app-arm", OTHER_ELF),
    file("app/run.sh", shellScript()),
  ];

  it.each([
    ["zip", () => zip(noLinux)],
    ["tar.xz", () => tarXz(noLinux)],
  ])("a %s without a Linux binary, saying what each entry is", async (_format, build) => {
    const error = await expectRefusal(await build(), {}, {
      code: "archive.no-linux-binary",
      words: [`no Linux ${HOST_ARCHITECTURE}`, `linux-${HOST}`],
    });
    expect(error.seen).toEqual([
      '"app/README.md" (text)',
      '"app/app.exe" (Windows PE)',
      '"app/app-darwin" (macOS Mach-O arm64)',
      `"app/app-arm" (ELF ${OTHER_ARCHITECTURE})`,
      '"app/run.sh" (script (#!/bin/sh))',
    ]);
  });

  it("a long listing, cut after 20 entries", async () => {
    const docs = Array.from({ length: 30 }, (_, index) => file(`docs/page-${index}.md`, "text\n"));
    const error = await expectRefusal(tarGz(docs), {}, { code: "archive.no-linux-binary", words: ["... and 10 more"] });
    expect(error.seen).toHaveLength(21);
  });

  it.each<[string, () => Buffer, Refusal]>([
    ["a bare binary for another architecture", () => OTHER_ELF, { code: "archive.no-linux-binary", words: ["download is not a Linux", `(ELF ${OTHER_ARCHITECTURE})`] }],
    ["a bare macOS binary", () => machO(), { code: "archive.no-linux-binary", words: ["(macOS Mach-O arm64)"] }],
    ["a gzipped text file", () => gz(Buffer.from("just some notes\n")), { code: "archive.no-linux-binary", words: ["(gzip-compressed text)"] }],
  ])("%s", async (_case, build, expected) => {
    await expectRefusal(build(), {}, expected);
  });

  it.each<[string, Buffer, string | undefined, readonly string[]]>([
    ["an HTML page served as a zip", Buffer.from("<!DOCTYPE html>\n<html>\n  <head><title>404 Not Found</title></head>\n  <body>Sorry, this page is gone.</body>\n</html>\n"), "text/html; charset=utf-8", ["an HTML page", 'content type: "text/html; charset=utf-8"', '"<!DOCTYPE html> <html> <head><title>404 Not Found</title></head>', "asset itself"]],
    ["a JSON error", Buffer.from('{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}'), "application/json", ["JSON", '"{\\"message\\":\\"Bad credentials\\"']],
    ["an S3 error", Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code></Error>'), undefined, ["an XML document", "AccessDenied"]],
    ["a zstd archive", Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x61, 0x00]), "application/zstd", ["zstd data (not supported)"]],
    ["an empty download", Buffer.alloc(0), "application/zip", ["content: empty, 0 bytes"]],
  ])("%s, showing what came instead", async (_case, bytes, contentType, words) => {
    await expectRefusal(bytes, contentType === undefined ? {} : { contentType }, { code: "archive.not-an-archive", words });
  });

  it("a binary that HTML pretends to be: the preview is cut at 80 bytes", async () => {
    const error = await expectRefusal(Buffer.from(`<html>${"x".repeat(200)}</html>`), { contentType: "application/octet-stream" }, {
      code: "archive.not-an-archive",
      words: ["an HTML page"],
    });
    const preview = error.seen.find((line) => line.startsWith("first bytes:"));
    expect(preview).toBe(`first bytes: "<html>${"x".repeat(74)}"`);
  });

  it.each<[string, () => Buffer | Promise<Buffer>, string]>([
    ["a zip entry climbing out with ../", async () => renameInZip(await zip([file("app", ELF), file("xx/evil", "x")]), "xx/evil", "../evil"), "../evil"],
    ["a zip entry with an absolute path", async () => renameInZip(await zip([file("app", ELF), file("xetc/passwd", "x")]), "xetc/passwd", "/etc/passwd"), "/etc/passwd"],
    ["a zip entry with Windows separators", async () => renameInZip(await zip([file("app", ELF), file("xx/xx/evil", "x")]), "xx/xx/evil", "..\\..\\evil"), "../../evil"],
    ["a tar entry climbing out with ../", () => tarGz([file("app", ELF), file("../../etc/cron.d/evil", "x")]), "../../etc/cron.d/evil"],
    ["a tar entry with an absolute path", () => tar([file("/usr/bin/app", ELF)]), "/usr/bin/app"],
    ["a tar entry hiding .. in the middle", () => tarXz([file("app/../../evil", ELF)]), "app/../../evil"],
  ])("%s", async (_case, build, entry) => {
    await expectRefusal(await build(), {}, { code: "archive.unsafe-entry", words: [`entry: "${entry}"`, "outside"] });
  });

  it.each<[string, () => Buffer | Promise<Buffer>, string]>([
    ["a zip symlink", () => zip([file("app", ELF), { path: "current", symlink: "app" }]), '"current" (symlink to "app")'],
    ["a tar symlink", () => tarGz([file("app", ELF), { path: "current", symlink: "/etc/passwd" }]), '"current" (symlink to "/etc/passwd")'],
    ["a tar hard link", () => tarGz([file("app", ELF), { path: "current", hardlink: "app" }]), '"current" (hard link to "app")'],
    ["a tar device", () => tar([file("app", ELF), { path: "current", device: "character" }]), '"current" (character device)'],
  ])("%s chosen by BINARY_NAME", async (_case, build, seen) => {
    await expectRefusal(await build(), { binaryName: "current" }, { code: "archive.unsafe-entry", words: ['BINARY_NAME "current"', seen] });
  });

  const bomb = Buffer.concat([ELF, Buffer.alloc(4 * 1024 * 1024)]);
  const limits = { maxTotalBytes: 1024 * 1024, maxEntries: 20 };
  const manyFiles = Array.from({ length: 50 }, (_, index) => file(`f/${index}`, "x"));
  const spread = Array.from({ length: 8 }, (_, index) => file(`part-${index}`, Buffer.alloc(200 * 1024)));

  it.each<[string, () => Buffer | Promise<Buffer>, string]>([
    ["a tar.gz entry that expands past the limit", () => tarGz([file("app", bomb)]), 'entry "app" declares 4.0 MiB'],
    ["a tar.xz whose entries add up past the limit", () => tarXz([...spread, file("app", ELF)]), "more than 1.0 MiB uncompressed"],
    ["a tar.gz past the limit after the binary", () => tarGz([file("app", ELF), ...spread]), "more than 1.0 MiB uncompressed"],
    ["a gzipped binary that expands past the limit", () => gz(bomb), "more than 1.0 MiB uncompressed"],
    ["a bare binary past the limit", () => bomb, "more than 1.0 MiB uncompressed"],
    ["a zip declaring more than the limit", () => zip([file("app", bomb)]), "the entries declare 4.0 MiB"],
    ["a tar with too many entries", () => tar([...manyFiles, file("app", ELF)]), "more than 20 entries"],
    ["a zip with too many entries", () => zip([...manyFiles, file("app", ELF)]), "more than 20 entries"],
  ])("%s", async (_case, build, words) => {
    await expectRefusal(await build(), { limits }, { code: "archive.too-large", words: [words, "1.0 MiB uncompressed, 20 entries"] });
  });

  it.each<[string, () => Buffer | Promise<Buffer>]>([
    ["a truncated tar.gz", () => cut(tarGz([file("app", ELF)]), 0.6)],
    ["a truncated tar", () => cut(tar([file("app", ELF)]), 0.6)],
    ["a truncated zip", async () => cut(await zip([file("app", ELF)]), 0.6)],
    ["a truncated tar.xz", () => cut(tarXz([file("app", ELF)]), 0.6)],
    ["a zip with a damaged entry", async () => damage(await zip([file("app", ELF)]), 200)],
    ["a zip with a damaged entry over 1 MiB, which is streamed", async () => damage(await zip([file("app", BIG_ELF)]), 200)],
    ["a tar.gz with damaged data", () => damage(tarGz([file("app", ELF)]), 60)],
  ])("%s as corrupt", async (_case, build) => {
    await expectRefusal(await build(), {}, { code: "archive.corrupt", words: ["damaged", "reason:", "BINARY_URL"] });
  });

  it.each([
    ["", ELF],
    [" over 1 MiB, which is streamed", BIG_ELF],
  ])("a stored zip entry%s whose bytes changed after its header, by its CRC-32", async (_size, binary) => {
    // Stored, not deflated: nothing but the CRC-32 can notice. The ELF header (offset 33) stays intact.
    const archive = damage(await zip([file("app", binary)], { compress: false }), 33 + 200);
    await expectRefusal(archive, {}, { code: "archive.corrupt", words: ["damaged", "entry 'app' fails its CRC-32 check"] });
  });

  it.each([
    // Over the 8 KiB whose head is read first, so the lie is found where the entry is written.
    ["", Buffer.concat([ELF, randomBytes(64 * 1024)])],
    [" over 1 MiB, which is streamed", BIG_ELF],
  ])("a zip entry%s that inflates to more than its central directory declares", async (_size, binary) => {
    const archive = await zip([file("app", binary)]);
    const central = archive.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    archive.writeUInt32LE(binary.length - 10, central + 24); // the uncompressed size the central directory declares
    await expectRefusal(archive, {}, { code: "archive.corrupt", words: ["damaged", "holds more than"] });
  });

  it("a tar.gz whose small file cannot be written while the next entry is already read: refused, never a hang", async () => {
    // "top/a" is a folder (top/a/b) and then a file: the write fails while node-tar has moved on to the 600 KB
    // entry, which the failure destroys; the extraction must end with the error, not wait on that entry.
    const archive = tarGz([file("top/a/b", "x"), file("top/pad", Buffer.alloc(100 * 1024, 1)), file("top/a", "y"), file("top/big", Buffer.alloc(600 * 1024, 2)), file("top/app", ELF)]);
    await expectRefusal(archive, {}, { code: "archive.unsafe-entry", words: ["both a folder and a file"] });
  }, 20_000);

  it("a zip symlink compressed with a method execpack cannot read: refused, not linked to its raw bytes", async () => {
    const archive = await zip([file("app", ELF), { path: "current", symlink: "app" }]);
    const central = archive.lastIndexOf(Buffer.from("current")) - 46; // the central directory's record, name last
    expect(archive.readUInt32LE(central)).toBe(0x02014b50);
    archive.writeUInt16LE(12, central + 10); // bzip2, in the central directory, which is what is read
    await expectRefusal(archive, {}, { code: "archive.corrupt", words: ["unsupported compression method: 12"] });
  });

  it("a tar.xz when xz is not installed", async () => {
    const archive = tarXz([file("app", ELF)]);
    const path = process.env.PATH;
    process.env.PATH = join(workdir, "empty-path");
    try {
      await expectRefusal(archive, {}, { code: "archive.xz-unavailable", words: ['"xz" program is not installed', ".tar.gz"] });
    } finally {
      process.env.PATH = path;
    }
  });
});

/** Over SMALL_FILE_BYTES (byte-stream.ts): read and inflated as a stream, not whole. */
const BIG_ELF = Buffer.concat([ELF, Buffer.alloc(2 * 1024 * 1024, "padding ")]);

function cut(bytes: Buffer, fraction: number): Buffer {
  return bytes.subarray(0, Math.floor(bytes.length * fraction));
}

function damage(bytes: Buffer, offset: number): Buffer {
  const damaged = Buffer.from(bytes);
  for (let index = offset; index < offset + 64; index++) damaged[index] = (damaged[index] ?? 0) ^ 0x5a;
  return damaged;
}
