/**
 * Errors that come from below our code, converted where they enter: the HTTP parser (a bad chunk size, a
 * server that does not speak HTTP), a broken percent-escape in BINARY_URL's credentials, a token holding a
 * line break, and disk errors on a real, small tmpfs (ENOSPC, EROFS, EACCES), which stop at once with their
 * own codes and are never retried as network failures.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isExecpackError } from "../../src/common/errors.js";
import type { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { download } from "../../src/fetch/download.js";
import { startRawServer } from "../helpers/raw-http-server.js";
import { CAN_MOUNT_TMPFS, mountTmpfs, remount, unmount } from "../helpers/tmpfs.js";
import type { RawServer } from "../helpers/raw-http-server.js";

const execFileAsync = promisify(execFile);
const BIG = Buffer.alloc(3 * 1024 * 1024, 7);
let raw: RawServer;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "execpack-hard-faults-"));
  raw = await startRawServer({
    "/bad-chunk": (socket) => socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    "/not-http": (socket) => socket.end("SSH-2.0-OpenSSH_9.6\r\n"),
    "/ok": (socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"),
    "/big": (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG.length}\r\nConnection: close\r\n\r\n`);
      socket.end(BIG);
    },
  });
});
afterAll(async () => {
  await raw?.close();
  rmSync(work, { recursive: true, force: true });
});

async function failure(options: { url: string; token?: string; destination?: string }): Promise<ExecpackError> {
  try {
    await download({ destination: join(work, "out", "app"), retries: 2, backoff: { baseMs: 1, capMs: 1 }, ...options });
  } catch (error) {
    if (isExecpackError(error)) return error;
    throw error;
  }
  throw new Error(`${options.url} did not fail`);
}

describe("library errors become codes", () => {
  it.each([
    ["a chunk size that is no number", () => ({ url: raw.url("/bad-chunk") }), "download.bad-response", "chunk size", "/bad-chunk"],
    ["a server that does not speak HTTP", () => ({ url: raw.url("/not-http") }), "download.bad-response", "not valid HTTP", "/not-http"],
    ["a broken percent-escape in the password", () => ({ url: raw.url("/ok").replace("://", "://deploy:50%zz@") }), "download.invalid-url", "%25", "/ok"],
    ["a token holding a line break", () => ({ url: raw.url("/ok"), token: "ghp_first\nsecond" }), "download.invalid-token", "one line", "/ok"],
  ])("%s: %s", async (_, options, code, words, path) => {
    const before = raw.hits(path);
    const error = await failure(options());
    expect(error.code).toBe(code);
    const text = formatError(error);
    expect(text).toContain(words);
    expect(text).not.toMatch(/ghp_first|second|50%zz/);
    // A parse failure is not retried: the same server gives the same answer. The others never connect.
    expect(raw.hits(path) - before).toBe(code === "download.bad-response" ? 1 : 0);
  });

  it("drops the line break around a token instead of failing", async () => {
    const saved = await download({ url: raw.url("/ok"), token: "  ghp_token\n", destination: join(work, "token-ok") });
    expect(saved.size).toBe(5);
  });
});

describe.skipIf(!CAN_MOUNT_TMPFS)("disk errors on a real tmpfs (skipped where this user cannot mount a tmpfs)", () => {
  let disk: string;
  beforeAll(() => {
    disk = mountTmpfs("1m")!;
  });
  afterAll(() => {
    chmodSync(disk, 0o755);
    unmount(disk);
  });

  it("a full disk is install.disk-full at once: where, how much was needed and how much is free, one request, no leftovers", async () => {
    const before = raw.hits("/big");
    const error = await failure({ url: raw.url("/big"), destination: join(disk, "cache", "app.tar.gz") });
    expect(error.code).toBe("install.disk-full");
    const text = formatError(error);
    expect(text).toContain(`where: "${join(disk, "cache")}"`);
    expect(text).toContain("needed: 3.0 MiB");
    expect(text).toMatch(/free: \d/);
    expect(text).not.toContain("connection");
    expect(raw.hits("/big") - before).toBe(1);
    expect(readdirSync(join(disk, "cache"))).toEqual([]); // the partial file is gone
  });

  it("a read-only file system is install.read-only", async () => {
    mkdirSync(join(disk, "ro"));
    remount(disk, "ro");
    try {
      const error = await failure({ url: raw.url("/ok"), destination: join(disk, "ro", "app") });
      expect(error.code).toBe("install.read-only");
      expect(formatError(error)).toContain(join(disk, "ro"));
    } finally {
      remount(disk, "rw");
    }
  });

  it("a directory the build cannot write is install.permission-denied (run as nobody)", async () => {
    const locked = join(disk, "locked");
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);
    chmodSync(disk, 0o755);
    const scratch = join(disk, "nobody-tmp"); // tsx's own cache, somewhere nobody may write
    mkdirSync(scratch);
    chmodSync(scratch, 0o777);
    // root writes anywhere, so the download runs as nobody: a real EACCES from the kernel.
    const script = `
      import { download } from ${JSON.stringify(join(process.cwd(), "src/fetch/download.ts"))};
      try { await download({ url: ${JSON.stringify(raw.url("/ok"))}, destination: ${JSON.stringify(join(locked, "app"))}, retries: 0 }); }
      catch (error) { console.log(error.code); }`;
    // Not spawnSync: the server answering the download runs in this process's event loop.
    const { stdout } = await execFileAsync(join(process.cwd(), "node_modules/.bin/node"), ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8", uid: 65534, gid: 65534, cwd: process.cwd(), env: { ...process.env, HOME: scratch, TMPDIR: scratch },
    });
    expect(stdout.trim()).toBe("install.permission-denied");
  });
});
