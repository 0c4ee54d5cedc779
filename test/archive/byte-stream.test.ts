/**
 * src/archive/byte-stream.ts's collections while the extraction writes: with --expose-gc (bin/compile), a young
 * collection every 2 MiB written and a full one every 16 MiB, which free spent chunks (bench/compile-memory.ts);
 * without it, none and no error. The module reads globalThis.gc when it loads, so each case loads it anew.
 */
import { afterEach, describe, expect, it, vi } from "vitest";

const MIB = 1024 * 1024;

async function loadWithGc(gc: ((options: { type: string }) => void) | undefined) {
  vi.resetModules();
  vi.stubGlobal("gc", gc);
  return import("../../src/archive/byte-stream.js");
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

describe("spent", () => {
  it("collects the young generation every 2 MiB written, and everything every 16 MiB", async () => {
    const types: string[] = [];
    const { spent } = await loadWithGc(({ type }) => types.push(type));
    for (let written = 0; written < 40 * MIB; written += 256 * 1024) spent(256 * 1024);
    expect(types).toHaveLength(20);
    expect(types.map((type, index) => (type === "major" ? index + 1 : 0)).filter(Boolean)).toEqual([8, 16]);
    expect(types.filter((type) => type === "minor")).toHaveLength(18);
  });

  it("counts the bytes, not the chunks: small chunks add up to the same collections", async () => {
    const types: string[] = [];
    const { spent } = await loadWithGc(({ type }) => types.push(type));
    for (let written = 0; written < 4 * MIB; written += 1000) spent(1000);
    expect(types).toEqual(["minor"]); // 4,096,000 bytes: past 2 MiB once, not yet twice
  });

  it("does nothing without --expose-gc", async () => {
    const { spent } = await loadWithGc(undefined);
    expect(() => spent(64 * MIB)).not.toThrow();
  });
});
