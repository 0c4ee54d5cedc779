/**
 * A shared library not named `.so` (`app`, `libfoo-1`) is ELF "shared" (ET_DYN) like a PIE program: chosen as
 * the binary or made a command, it would crash at its first start. Real files built by this machine's `cc`
 * (helpers/elf-binary.ts compiledElf), in real archives: a library is never the binary nor a command, a PIE
 * and a static PIE are, and the boot's check refuses a library that reached it anyway.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractRelease } from "../../src/archive/extract.js";
import type { ExtractResult } from "../../src/archive/extract.js";
import { assertExecutable } from "../../src/archive/runnable.js";
import { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { ASSET_ARCH, HELLO_OUTPUT, HOST_ARCHITECTURE, compiledElf } from "../helpers/elf-binary.js";
import { file, gz, tarGz, zip } from "../helpers/release-archives.js";

const PIE = compiledElf("pie")!;
const LIBRARY = compiledElf("library")!;
const LIBRARY_WITH_ENTRY = compiledElf("library-with-entry")!;
const STATIC_PIE = compiledElf("static-pie");
const HOST = ASSET_ARCH[HOST_ARCHITECTURE];

let work: string;
let count = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "execpack-shared-library-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function extract(bytes: Buffer, options: { binaryName?: string; releaseName?: string } = {}): Promise<ExtractResult> {
  count += 1;
  const archivePath = join(work, `download-${count}`);
  writeFileSync(archivePath, bytes);
  return extractRelease({ archivePath, staging: join(work, `staging-${count}`), architecture: HOST_ARCHITECTURE, ...options });
}

async function refusal(bytes: Buffer, options: { binaryName?: string; releaseName?: string } = {}): Promise<ExecpackError> {
  const error = await extract(bytes, options).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ExecpackError);
  return error as ExecpackError;
}

describe("a release holding a shared library not named .so", () => {
  it.each([
    ["tar.gz", () => tarGz([file(`app_linux_${HOST}/app`, LIBRARY), file(`app_linux_${HOST}/server`, PIE), file(`app_linux_${HOST}/libhelper`, LIBRARY_WITH_ENTRY)])],
    ["zip", () => zip([file(`app_linux_${HOST}/app`, LIBRARY), file(`app_linux_${HOST}/server`, PIE), file(`app_linux_${HOST}/libhelper`, LIBRARY_WITH_ENTRY)])],
  ])("from a %s: the program is the binary, although the library is named like the release; no library is a command", async (_format, build) => {
    const result = await extract(await build());
    expect(result.entry).toBe(`app_linux_${HOST}/server`);
    expect(result.candidates).toEqual([`app_linux_${HOST}/server`]);
    expect(result.executables).toEqual(["server"]);
    // The library is still installed, as a file of the release a program may load.
    expect(readFileSync(join(result.root, "app"))).toEqual(LIBRARY);
    expect(execFileSync(join(result.root, result.path), { encoding: "utf8" }).trim()).toBe(HELLO_OUTPUT);
  });

  it("holding only libraries: archive.no-linux-binary, each listed as a shared library", async () => {
    const error = await refusal(tarGz([file("app/app", LIBRARY), file("app/libhelper", LIBRARY_WITH_ENTRY)]));
    expect(error.code).toBe("archive.no-linux-binary");
    const text = formatError(error);
    expect(text).toContain(`"app/app" (ELF ${HOST_ARCHITECTURE} shared library)`);
    expect(text).toContain(`"app/libhelper" (ELF ${HOST_ARCHITECTURE} shared library)`);
  });

  it("BINARY_NAME naming the library: archive.no-linux-binary, not a binary that crashes at boot", async () => {
    const error = await refusal(tarGz([file("app", LIBRARY), file("server", PIE)]), { binaryName: "app" });
    expect(error.code).toBe("archive.no-linux-binary");
    expect(formatError(error)).toContain("shared library");
  });

  it.each([
    ["a bare download", () => LIBRARY],
    ["a gzip-compressed download", () => gz(LIBRARY)],
  ])("%s that is a library: archive.no-linux-binary", async (_name, build) => {
    const error = await refusal(build(), { releaseName: `app_linux_${HOST}` });
    expect(error.code).toBe("archive.no-linux-binary");
    expect(formatError(error)).toContain("shared library");
  });

  it.skipIf(STATIC_PIE === undefined)("a static PIE (no interpreter, DF_1_PIE) is a program: chosen and run (skipped where cc cannot link -static-pie)", async () => {
    const result = await extract(tarGz([file("tool/app", STATIC_PIE!), file("tool/libapp", LIBRARY)]));
    expect(result.entry).toBe("tool/app");
    expect(result.executables).toEqual(["app"]);
    expect(execFileSync(join(result.root, result.path), { encoding: "utf8" }).trim()).toBe(HELLO_OUTPUT);
  });
});

describe("the boot's check before execve", () => {
  const write = (name: string, bytes: Buffer): string => {
    const path = join(work, name);
    writeFileSync(path, bytes);
    chmodSync(path, 0o755);
    return path;
  };

  it("refuses a library with boot.binary-wrong-format instead of letting it segfault", () => {
    const path = write("boot-library", LIBRARY);
    let caught: unknown;
    try {
      assertExecutable(path);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ExecpackError);
    const text = formatError(caught as ExecpackError);
    expect((caught as ExecpackError).code).toBe("boot.binary-wrong-format");
    expect(text).toContain("shared library");
    expect(text).toContain("BINARY_NAME");
    // What the check saves the dyno from: the kernel starts it, and it crashes.
    expect(() => execFileSync(path, { stdio: "ignore" })).toThrow();
  });

  it.each([
    ["a PIE", () => PIE],
    ...(STATIC_PIE === undefined ? [] : [["a static PIE", () => STATIC_PIE] as [string, () => Buffer]]),
  ])("accepts %s", (name, bytes) => {
    expect(() => assertExecutable(write(`boot-${name.replace(/\W+/g, "-")}`, bytes()))).not.toThrow();
  });
});
