import { describe, expect, it } from "vitest";
import { describeFile, dynoArchitecture, isRunnableOn, readElfHeader } from "../../src/archive/elf.js";
import type { ElfHeader } from "../../src/archive/elf.js";
import { ExecpackError } from "../../src/common/errors.js";
import { HOST_ARCHITECTURE, elfHeader, helloElf, machO, shellScript, windowsPe } from "../helpers/elf-binary.js";

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
