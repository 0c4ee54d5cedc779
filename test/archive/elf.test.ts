import { describe, expect, it } from "vitest";
import { describeFile, dynoArchitecture, isRunnableOn, isSharedLibraryElf, readElfHeader, readProgramHeaders } from "../../src/archive/elf.js";
import type { ElfHeader } from "../../src/archive/elf.js";
import { ExecpackError } from "../../src/common/errors.js";
import { HOST_ARCHITECTURE, compiledElf, elfHeader, helloElf, machO, shellScript, windowsPe } from "../helpers/elf-binary.js";

describe("readElfHeader", () => {
  it("reads the binary cc just built for this machine", () => {
    const header = readElfHeader(helloElf().subarray(0, 64));
    expect(header).toMatchObject({ class: 64, machine: HOST_ARCHITECTURE, endianness: "little" });
    // cc builds PIE by default on current distributions: ET_DYN, which is why "shared" must be runnable.
    expect(["executable", "shared"]).toContain(header?.type);
  });

  it.each([
    ["x86_64 executable", elfHeader({ machine: "x86_64" }), { class: 64, machine: "x86_64", type: "executable", endianness: "little" }],
    ["aarch64 PIE", elfHeader({ machine: "aarch64", type: "shared" }), { class: 64, machine: "aarch64", type: "shared", endianness: "little" }],
    ["32-bit x86", elfHeader({ machine: "x86", class: 32 }), { class: 32, machine: "x86", type: "executable", endianness: "little" }],
    ["object file", elfHeader({ type: "relocatable" }), { class: 64, machine: "x86_64", type: "relocatable", endianness: "little" }],
    ["big-endian", elfHeader({ machine: "aarch64", endianness: "big" }), { class: 64, machine: "aarch64", type: "executable", endianness: "big" }],
    ["unknown machine", elfHeader({ machine: "pdp-11" }), { class: 64, machine: "machine 0", type: "executable", endianness: "little" }],
  ])("reads a %s header", (_name, bytes, expected) => {
    expect(readElfHeader(bytes)).toEqual(expected);
  });

  it.each([
    ["a Mach-O", machO()],
    ["a Windows PE", windowsPe()],
    ["a shell script", shellScript()],
    ["text", Buffer.from("# README\n\nRun ./app.\n")],
    ["nothing", Buffer.alloc(0)],
    ["a truncated ELF", elfHeader().subarray(0, 40)],
    ["an ELF with an invalid class", Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 9, 1]), Buffer.alloc(58)])],
  ])("rejects %s", (_name, bytes) => {
    expect(readElfHeader(bytes)).toBeUndefined();
  });
});

describe("dynoArchitecture", () => {
  it.each([
    ["x64", "x86_64"],
    ["arm64", "aarch64"],
  ])("maps process.arch %s to %s", (nodeArch, expected) => {
    expect(dynoArchitecture(nodeArch)).toBe(expected);
  });

  it("refuses an architecture no dyno has", () => {
    expect(() => dynoArchitecture("ppc64")).toThrow(
      expect.objectContaining({ code: "platform.unsupported-architecture", message: expect.stringContaining('"ppc64"') }),
    );
    expect(() => dynoArchitecture("ppc64")).toThrow(ExecpackError);
  });

  it("defaults to this machine", () => {
    expect(dynoArchitecture()).toBe(process.arch === "arm64" ? "aarch64" : "x86_64");
  });
});

describe("isRunnableOn", () => {
  const header = (fields: Partial<ElfHeader>): ElfHeader => ({
    class: 64,
    machine: "x86_64",
    type: "executable",
    endianness: "little",
    ...fields,
  });

  it.each([
    [header({}), "x86_64", true],
    [header({ type: "shared" }), "x86_64", true],
    [header({ machine: "aarch64" }), "aarch64", true],
    [header({ machine: "aarch64" }), "x86_64", false],
    [header({}), "aarch64", false],
    [header({ class: 32 }), "x86_64", false],
    [header({ endianness: "big" }), "x86_64", false],
    [header({ type: "relocatable" }), "x86_64", false],
    [header({ type: "core" }), "x86_64", false],
  ] as const)("%o on %s: %s", (elf, architecture, expected) => {
    expect(isRunnableOn(elf, architecture)).toBe(expected);
  });
});

describe("describeFile", () => {
  const universal = Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2, ...Array(56).fill(0)]);
  const javaClass = Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61, ...Array(56).fill(0)]);

  it.each([
    ["ELF x86_64", elfHeader({ machine: "x86_64" })],
    ["ELF aarch64", elfHeader({ machine: "aarch64" })],
    ["ELF 32-bit arm", elfHeader({ machine: "arm", class: 32 })],
    ["ELF x86_64 relocatable", elfHeader({ type: "relocatable" })],
    ["ELF (truncated header)", elfHeader().subarray(0, 20)],
    ["macOS Mach-O arm64", machO()],
    ["macOS universal Mach-O", universal],
    ["Java class", javaClass],
    ["Windows PE", windowsPe()],
    ["script (#!/bin/sh)", shellScript()],
    ["text", Buffer.from("MIT License\n\nCopyright (c) 2024 — someone\n")],
    ["data", Buffer.from([0x00, 0x01, 0x02, 0xff])],
    ["empty", Buffer.alloc(0)],
    ["gzip data", Buffer.from([0x1f, 0x8b, 0x08, 0x00])],
  ])("says %s", (expected, bytes) => {
    expect(describeFile(bytes)).toBe(expected);
  });

  it(`says ELF ${HOST_ARCHITECTURE} for the compiled binary`, () => {
    expect(describeFile(helloElf().subarray(0, 64))).toBe(`ELF ${HOST_ARCHITECTURE}`);
  });
});

describe("isSharedLibraryElf: a library and a PIE program are both ET_DYN", () => {
  const classify = (bytes: Buffer): boolean => {
    const header = readElfHeader(bytes.subarray(0, 64));
    if (!header) throw new Error("not an ELF");
    return isSharedLibraryElf(header, readProgramHeaders(bytes.subarray(0, 64), bytes.length, (at, length) => bytes.subarray(at, at + length)));
  };

  it.each([
    ["a PIE program (cc -pie: PT_INTERP)", "pie", false],
    ["an ET_EXEC program (cc -no-pie)", "no-pie", false],
    ["a shared library (cc -shared: no PT_INTERP, no DF_1_PIE, entry 0)", "library", true],
    ["a shared library given an entry point (-Wl,-e,main: still no PT_INTERP, no DF_1_PIE)", "library-with-entry", true],
  ] as const)("%s: %s", (_name, kind, library) => {
    const bytes = compiledElf(kind);
    expect(bytes, `cc could not build ${kind}`).toBeDefined();
    expect(readElfHeader(bytes!.subarray(0, 64))?.type).toBe(kind === "no-pie" ? "executable" : "shared");
    expect(classify(bytes!)).toBe(library);
  });

  it.skipIf(compiledElf("static-pie") === undefined)("a static PIE (cc -static-pie: no PT_INTERP, DF_1_PIE, an entry point) is a program (skipped where cc cannot link -static-pie)", () => {
    const bytes = compiledElf("static-pie")!;
    const program = readProgramHeaders(bytes.subarray(0, 64), bytes.length, (at, length) => bytes.subarray(at, at + length));
    expect(program).toMatchObject({ interpreter: undefined, pie: true, truncated: false });
    expect(classify(bytes)).toBe(false);
  });

  it("does not call a cut-off library a library: it is reported as damaged where it is checked", () => {
    const bytes = compiledElf("library")!;
    expect(classify(bytes.subarray(0, 2048))).toBe(false);
  });
});
