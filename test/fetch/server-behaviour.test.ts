/**
 * The download against servers that end, lie and stall in every way seen in the wild, byte for byte on a raw
 * socket: each case ends in the file, a retry, or an ExecpackError with a stable code, never an exception
 * from inside the HTTP client. The first case is undici 7's uncatchable `assert(!this.paused)`: a server
 * that closes right after the body while the client is behind reading it (issue 9); it is a race, so it runs
 * many times, at sizes that fill the client's buffers.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { download } from "../../src/fetch/download.js";
import type { DownloadOptions } from "../../src/fetch/download.js";
import { ExecpackError } from "../../src/common/errors.js";
import { head, startRawServer } from "../helpers/raw-http-server.js";
import type { RawServer } from "../helpers/raw-http-server.js";

const SIZES = { "1kB": 1_000, "256KiB": 256 * 1024, "1MiB": 1024 * 1024, "4MiB": 4 * 1024 * 1024 };
const bodies = Object.fromEntries(Object.entries(SIZES).map(([name, size]) => [name, Buffer.alloc(size, name)])) as Record<keyof typeof SIZES, Buffer>;
const sizeNames = Object.keys(SIZES) as Array<keyof typeof SIZES>;

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

let server: RawServer;
let work: string;
let crashes: unknown[];
const onCrash = (error: unknown): void => {
  crashes.push(error);
};

beforeAll(async () => {
  const routes: Parameters<typeof startRawServer>[0] = {};
  for (const size of sizeNames) {
    const body = bodies[size];
    // HTTP/1.1 with Connection: close, and the FIN sent straight after the last byte.
    routes[`/close-after-body/${size}`] = (socket) => {
      socket.write(head("HTTP/1.1 200 OK", { "Content-Length": body.length, Connection: "close" }));
      socket.end(body);
    };
    // HTTP/1.0 as `python3 -m http.server` speaks it: a length, then the connection ends.
    routes[`/http10/${size}`] = (socket) => {
      socket.write(head("HTTP/1.0 200 OK", { Server: "SimpleHTTP/0.6 Python/3.12", "Content-Length": body.length }));
      socket.end(body);
    };
    // HTTP/1.0 without any length: the body is whatever comes until the connection ends.
    routes[`/http10-no-length/${size}`] = (socket) => {
      socket.write(head("HTTP/1.0 200 OK", { "Content-Type": "application/octet-stream" }));
      socket.end(body);
    };
    // Announces more than it sends, then closes: a truncated body.
    routes[`/length-too-long/${size}`] = (socket) => {
      socket.write(head("HTTP/1.1 200 OK", { "Content-Length": body.length + 1000, Connection: "close" }));
      socket.end(body);
    };
    // Announces less than it sends: the bytes after the announced length are not part of the response.
    routes[`/length-too-short/${size}`] = (socket) => {
      socket.write(head("HTTP/1.1 200 OK", { "Content-Length": body.length - 10 }));
      socket.end(Buffer.concat([body, Buffer.from("HTTP/1.1 200 OK\r\n\r\n")]));
    };
    // A TCP reset halfway through the body.
    routes[`/reset/${size}`] = (socket) => {
      socket.write(head("HTTP/1.1 200 OK", { "Content-Length": body.length }));
      socket.write(body.subarray(0, body.length >> 1), () => socket.resetAndDestroy());
    };
    // Half the body, then silence with the connection open.
    routes[`/stall/${size}`] = (socket) => {
      socket.write(head("HTTP/1.1 200 OK", { "Content-Length": body.length }));
      socket.write(body.subarray(0, body.length >> 1));
    };
  }
  server = await startRawServer(routes);
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "execpack-server-behaviour-"));
  crashes = [];
  // An exception thrown from inside the HTTP client's socket handlers reaches no promise of ours: only here.
  process.on("uncaughtException", onCrash);
});
afterEach(async () => {
  process.off("uncaughtException", onCrash);
  await rm(work, { recursive: true, force: true });
});

function options(path: string, name: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { url: server.url(path), destination: join(work, name), retries: 1, backoff: { baseMs: 1, capMs: 5 }, ...extra };
}

/** Keeps the event loop busy a few milliseconds at a time: the client falls behind reading, as on a loaded build machine. */
function slowReader(busyMs: number): () => void {
  const timer = setInterval(() => {
    const until = Date.now() + busyMs;
    while (Date.now() < until);
  }, 1);
  return () => clearInterval(timer);
}

describe("a server that closes the connection right after the body", () => {
  it.each([
    { size: "256KiB" as const, rounds: 25, busyMs: 0 },
    { size: "1MiB" as const, rounds: 25, busyMs: 0 },
    { size: "1MiB" as const, rounds: 10, busyMs: 2 },
    { size: "4MiB" as const, rounds: 4, busyMs: 2 },
  ])("$size, $rounds rounds, reader busy $busyMs ms at a time: every round gets the whole file and nothing is thrown", async ({ size, rounds, busyMs }) => {
    const stop = slowReader(busyMs);
    try {
      for (let round = 0; round < rounds; round++) {
        const result = await download(options(`/close-after-body/${size}`, `round-${round}`, { retries: 0 }));
        expect(result.sha256).toBe(sha256(bodies[size]));
      }
      // Give a late socket 'end' the turn of the event loop it would crash in.
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      stop();
    }
    expect(crashes).toEqual([]);
  });
});

describe("every size, every way of ending", () => {
  const cases = sizeNames.flatMap((size) => [
    { path: `/http10/${size}`, size, expected: "file" },
    { path: `/http10-no-length/${size}`, size, expected: "file" },
    { path: `/length-too-short/${size}`, size, expected: "file-minus-10" },
    { path: `/length-too-long/${size}`, size, expected: "download.truncated" },
    // A reset is a network failure or a short body, depending on what the socket saw first; both are retried.
    { path: `/reset/${size}`, size, expected: "download.truncated|download.network" },
    { path: `/stall/${size}`, size, expected: "download.timeout" },
  ]);

  it.each(cases)("$path → $expected", async ({ path, size, expected }) => {
    const body = bodies[size];
    // A short idle limit for the stalls only: on a loaded machine a 4 MiB body may pause longer than that.
    const attempt = download(options(path, "file", { timeouts: { bodyMs: path.startsWith("/stall/") ? 150 : 5_000 } })).then(
      (result) => result,
      (error: unknown) => error,
    );
    const outcome = await attempt;
    expect(crashes).toEqual([]);
    if (expected === "file" || expected === "file-minus-10") {
      const wanted = expected === "file" ? body : body.subarray(0, body.length - 10);
      expect(outcome).not.toBeInstanceOf(Error);
      expect(sha256(await readFile(join(work, "file")))).toBe(sha256(wanted)); // toEqual on MiBs of Buffer is slow
      return;
    }
    expect(outcome).toBeInstanceOf(ExecpackError);
    expect((outcome as ExecpackError).code).toMatch(new RegExp(`^(${expected})$`));
    // A failed attempt was retried (retries: 1), and nothing but the target's directory entries are left.
    expect(server.hits(path)).toBeGreaterThanOrEqual(2);
    expect(await readdir(work)).toEqual([]);
  });
});
