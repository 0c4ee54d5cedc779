import { describe, expect, it } from "vitest";
import type { ArchiveEntry } from "../../src/archive/types.js";
import { chooseBinary } from "../../src/archive/choose-binary.js";

describe("chooseBinary", () => {
  const elf = (path: string): ArchiveEntry => ({ path, kind: "file", description: "ELF x86_64", runnable: true });
  const text = (path: string): ArchiveEntry => ({ path, kind: "file", description: "text", runnable: false });

  it.each([
    [["README.md"], ["app"], "app"],
    [[], ["tool", "app-amd64", "app-linux-amd64"], "app-linux-amd64"],
    [[], ["dist/linux_x86_64/app", "dist/app"], "dist/linux_x86_64/app"],
    [[], ["app-x64", "helper"], "app-x64"],
    [[], ["app-linux", "helper"], "app-linux"],
    [[], ["bin/app", "lib/libapp.so", "lib/libapp.so.1.2"], "bin/app"],
    [[], ["linux-amd64/app", "linux-amd64/lib/libssl.so.3"], "linux-amd64/app"],
  ])("with %o beside %o, runs %s", (others, binaries, expected) => {
    const entries = [...others.map(text), ...binaries.map(elf)];
    expect(chooseBinary(entries, { architecture: "x86_64" }).chosen.path).toBe(expected);
  });

  it.each([
    [["bin/server", "bin/worker"]],
    [["app-linux-amd64/server", "app-linux-amd64/worker"]],
  ])("refuses to guess between %o", (binaries) => {
    expect(() => chooseBinary(binaries.map(elf), { architecture: "x86_64" })).toThrow(
      expect.objectContaining({ code: "archive.ambiguous" }),
    );
  });
});
