/**
 * Extraction while downloading (src/fetch/tee.ts, extractReleaseFromStream): a tar.gz is written into its
 * staging folder as its bytes arrive, and nothing of it is installed until the whole body arrived and matched.
 * Real parts: installRelease against HTTP servers on loopback, real tar.gz archives holding a real ELF, padded
 * with random bytes so the archive is large enough to arrive in many chunks.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBinarySettings } from "../../src/common/config.js";
import { ExecpackError } from "../../src/common/errors.js";
import { installRelease } from "../../src/install/install.js";
import { binaryPath, slugPaths } from "../../src/install/slug.js";
import { helloElf, sha256 } from "../helpers/elf-binary.js";
import { ok, startFaultServer, truncate } from "../helpers/fault-server.js";
import type { FaultServer } from "../helpers/fault-server.js";
import { file, gz, tar, tarGz, tarXz, xz } from "../helpers/release-archives.js";

const RELEASE = "/releases/app_1.0.0_linux_amd64.tar.gz";
// A real program followed by 3 MiB it never reads: the loader ignores bytes past the last section.
const BINARY = Buffer.concat([helloElf(), randomBytes(3 * 1024 * 1024)]);
// Larger than SNIFF_BYTES, so the format is told from a prefix and the rest streams after it; small enough to xz fast.
const SMALL = Buffer.concat([helloElf(), randomBytes(256 * 1024)]);
const ARCHIVE = tarGz([file("app_1.0.0_linux_amd64/app", BINARY), file("app_1.0.0_linux_amd64/README.md", "read me\n", 0o644)]);

let work: string;
let server: FaultServer;
let count = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "execpack-streamed-"));
  server = await startFaultServer();
});

afterAll(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

function fresh() {
  count += 1;
  const paths = slugPaths(join(work, `app-${count}`));
  return { paths, cacheDir: join(work, `cache-${count}`) };
}

/** Files of the install root and the download cache, as paths under `work`: what a failure may leave. */
function leftovers(paths: { root: string }, cacheDir: string): string[] {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).map((name) => join(dir, name).slice(work.length + 1)) : []);
  return [...list(paths.root), ...list(cacheDir)].sort();
}

/** Staging folders under the install root holding part of the binary: the extraction at work. */
function partialBinaryOnDisk(root: string): number | undefined {
  if (!existsSync(root)) return undefined;
  for (const name of readdirSync(root).filter((entry) => entry.startsWith("staging."))) {
    const candidate = join(root, name, "app_1.0.0_linux_amd64/app");
    if (existsSync(candidate)) return statSync(candidate).size;
  }
  return undefined;
}

describe("a tar.gz is extracted while it downloads", () => {
  it("writes the binary into a staging folder before the body's second half is sent, and installs it once complete", async () => {
    const { paths, cacheDir } = fresh();
    let seenMidBody: number | undefined;
    const half = ARCHIVE.length >> 1;
    // Sends half the archive, then waits (at most 5 s) until the binary shows up in a staging folder.
    const gated = createServer((_request, response) => {
      response.writeHead(200, { "content-length": String(ARCHIVE.length), "content-type": "application/gzip" });
      response.write(ARCHIVE.subarray(0, half), async () => {
        for (let waited = 0; waited < 5000 && seenMidBody === undefined; waited += 20) {
          seenMidBody = partialBinaryOnDisk(paths.root);
          if (seenMidBody === undefined) await sleep(20);
        }
        response.end(ARCHIVE.subarray(half));
      });
    });
    await new Promise<void>((resolve) => gated.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(gated.address() as AddressInfo).port}${RELEASE}`;
      const manifest = await installRelease({ settings: readBinarySettings({ BINARY_URL: url }), paths, cacheDir, log: () => undefined });
      expect(seenMidBody).toBeGreaterThan(0);
      expect(seenMidBody).toBeLessThan(BINARY.length);
      expect(manifest).toMatchObject({ name: "app", format: "tar.gz", sha256: sha256(BINARY) });
      expect(readFileSync(binaryPath(paths, manifest)).equals(BINARY)).toBe(true);
      expect(readdirSync(paths.root).filter((name) => name.startsWith("staging."))).toEqual([]);
    } finally {
      gated.closeAllConnections();
      await new Promise((resolve) => gated.close(resolve));
    }
  });

  it.each([
    ["tar.xz", "app_1.0.0_linux_amd64.tar.xz", () => tarXz([file("app_1.0.0_linux_amd64/app", SMALL)]), "tar.xz"],
    ["tar", "app_1.0.0_linux_amd64.tar", () => tar([file("app_1.0.0_linux_amd64/app", SMALL)]), "tar"],
    ["bare ELF", "app_linux_amd64", () => SMALL, "elf"],
    ["gzip-compressed ELF", "app_linux_amd64.gz", () => gz(SMALL), "gzip"],
    ["xz-compressed ELF", "app_linux_amd64.xz", () => xz(SMALL), "xz"],
  ])("a %s is installed through the same streamed path", async (_kind, name, archive, format) => {
    const { paths, cacheDir } = fresh();
    server.script(`/releases/${name}`, [ok(archive())]);
    const manifest = await installRelease({ settings: readBinarySettings({ BINARY_URL: server.url(`/releases/${name}`) }), paths, cacheDir, log: () => undefined });
    expect(manifest).toMatchObject({ name: "app", format, sha256: sha256(SMALL) });
    expect(readFileSync(binaryPath(paths, manifest)).equals(SMALL)).toBe(true);
  });

  it("a connection closed mid-body is retried from scratch: the release installs whole, no staging folder is left", async () => {
    const { paths, cacheDir } = fresh();
    server.script(RELEASE, [truncate(ARCHIVE, ARCHIVE.length >> 1), ok(ARCHIVE)]);
    const lines: string[] = [];
    const manifest = await installRelease({ settings: readBinarySettings({ BINARY_URL: server.url(RELEASE) }), paths, cacheDir, log: (line) => lines.push(line) });
    expect(server.requests(RELEASE)).toHaveLength(2);
    expect(lines.some((line) => /Retrying .* after a truncated body/.test(line))).toBe(true);
    expect(manifest.sha256).toBe(sha256(BINARY));
    expect(readFileSync(binaryPath(paths, manifest)).equals(BINARY)).toBe(true);
    expect(leftovers(paths, cacheDir).filter((path) => /staging\.|\.partial|release\.download/.test(path))).toEqual([]);
  });

  it("a connection closed mid-body at every attempt fails with download.truncated and installs nothing", async () => {
    const { paths, cacheDir } = fresh();
    server.script(RELEASE, [truncate(ARCHIVE, ARCHIVE.length >> 1)]);
    const error = await installRelease({ settings: readBinarySettings({ BINARY_URL: server.url(RELEASE) }), paths, cacheDir, log: () => undefined }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExecpackError);
    expect(error).toMatchObject({ code: "download.truncated", message: expect.stringMatching(/ended early/) });
    expect((error as ExecpackError).seen).toContain("attempts: 5");
    expect(server.requests(RELEASE)).toHaveLength(5);
    expect(leftovers(paths, cacheDir)).toEqual([]);
  }, 20_000);

  it("a BINARY_SHA256 mismatch, known only at the body's last byte, installs nothing though the extraction had begun", async () => {
    const { paths, cacheDir } = fresh();
    server.script(RELEASE, [ok(ARCHIVE)]);
    const pin = "0".repeat(64);
    const error = await installRelease({ settings: readBinarySettings({ BINARY_URL: server.url(RELEASE), BINARY_SHA256: pin }), paths, cacheDir, log: () => undefined })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "download.checksum-mismatch" });
    expect((error as ExecpackError).seen).toEqual(expect.arrayContaining([`expected: ${pin}`, `actual:   ${sha256(ARCHIVE)}`]));
    expect((error as ExecpackError).hint).toMatch(/Nothing was installed/);
    expect(leftovers(paths, cacheDir)).toEqual([]);
  });

  it("an entry that escapes its folder, met mid-download, stops the download with archive.unsafe-entry", async () => {
    const { paths, cacheDir } = fresh();
    const hostile = tarGz([file("app/app", BINARY), file("../escape", "x")]);
    server.script(RELEASE, [ok(hostile)]);
    const error = await installRelease({ settings: readBinarySettings({ BINARY_URL: server.url(RELEASE) }), paths, cacheDir, log: () => undefined }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "archive.unsafe-entry" });
    expect(server.requests(RELEASE)).toHaveLength(1); // the archive's fault: never retried
    expect(leftovers(paths, cacheDir)).toEqual([]);
    expect(existsSync(join(work, "escape"))).toBe(false);
  });
});
