import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { confirmCache } from "../../src/fetch/cache.js";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from "vitest";
import { download } from "../../src/fetch/download.js";
import type { DownloadOptions } from "../../src/fetch/download.js";
import { ExecpackError } from "../../src/common/errors.js";
import { delay, ok, redirect, reset, stall, startFaultServer, status, truncate } from "../helpers/fault-server.js";
import type { FaultServer, Reply } from "../helpers/fault-server.js";

const BODY = Buffer.from("release archive bytes\n".repeat(5000));
const BODY_SHA = sha256(BODY);
const PASSWORD = "s3cret";
const TOKEN = "t0ken-value";
const USER = `user:${PASSWORD}`;
const GOOD = "the good binary from the last build";

let server: FaultServer;
let other: FaultServer; // a second origin: same host, another port
let work: string;
let destination: string;
let logs: string[];

beforeAll(async () => {
  [server, other] = await Promise.all([startFaultServer(), startFaultServer()]);
});
afterAll(async () => {
  await Promise.all([server.close(), other.close()]);
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "execpack-download-"));
  destination = join(work, "slug", "app.tar.gz");
  logs = [];
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Tiny backoff so retries cost milliseconds. */
function options(url: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { url, destination, retries: 2, backoff: { baseMs: 1, capMs: 20 }, log: (line) => logs.push(line), ...extra };
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

async function withGoodFile(): Promise<void> {
  await mkdir(dirname(destination), { recursive: true });
  await writeFile(destination, GOOD);
}

/** The failure contract: its code and words, no secret anywhere, and the previous file left as it was. */
async function expectFailure(attempt: Promise<unknown>, code: string, words: readonly string[]): Promise<ExecpackError> {
  const error = await attempt.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ExecpackError);
  const failure = error as ExecpackError;
  expect(failure.code).toBe(code);
  const text = [failure.message, ...failure.seen, failure.hint ?? ""].join("\n");
  for (const word of words) expect(text).toContain(word);
  expect([text, ...logs].join("\n")).not.toMatch(new RegExp(`${PASSWORD}|${TOKEN}`));
  expect(await readFile(destination, "utf8")).toBe(GOOD);
  expect(await readdir(dirname(destination))).toEqual(["app.tar.gz"]);
  return failure;
}

describe("failures leave the previous file alone", () => {
  interface FailureCase {
    name: string;
    routes: Record<string, Reply[]>;
    extra?: () => Partial<DownloadOptions>;
    code: string;
    words: string[];
    requests?: number;
  }
  it.each<FailureCase>([
    { name: "404", routes: { "/file": [status(404)] }, code: "download.not-found", words: ["not found", "404", "127.0.0.1"], requests: 1 },
    { name: "410", routes: { "/file": [status(410)] }, code: "download.not-found", words: ["410 Gone"], requests: 1 },
    { name: "401", routes: { "/file": [status(401)] }, code: "download.unauthorized", words: ["401 Unauthorized", "set BINARY_TOKEN"], requests: 1 },
    { name: "403 with a token", routes: { "/file": [status(403)] }, extra: () => ({ token: TOKEN }), code: "download.unauthorized", words: ["403", "BINARY_TOKEN was sent"], requests: 1 },
    { name: "400", routes: { "/file": [status(400)] }, code: "download.http-status", words: ["HTTP 400 Bad Request", "text/plain"], requests: 1 },
    { name: "500 every time", routes: { "/file": [status(500)] }, code: "download.http-status", words: ["HTTP 500", "attempts: 3"], requests: 3 },
    { name: "truncated every time", routes: { "/file": [truncate(BODY, 100)] }, code: "download.truncated", words: ["ended early", `100 of ${BODY.length} bytes`, "attempts: 3"], requests: 3 },
    { name: "headers too slow", routes: { "/file": [delay(1_000, ok(BODY))] }, extra: () => ({ retries: 0, timeouts: { headersMs: 100 } }), code: "download.timeout", words: ["Timed out", "0.1 s", "headers"], requests: 1 },
    { name: "body stalls", routes: { "/file": [stall(BODY, 1000)] }, extra: () => ({ retries: 1, timeouts: { bodyMs: 100 } }), code: "download.timeout", words: ["stalled", "attempts: 2"], requests: 2 },
    { name: "redirect loop", routes: { "/file": [redirect("/b")], "/b": [redirect("/file")] }, code: "download.too-many-redirects", words: ["loop", "/b"], requests: 1 },
    { name: "redirect chain too long", routes: { "/file": [redirect("/r1")], "/r1": [redirect("/r2")], "/r2": [redirect("/r3")] }, extra: () => ({ maxRedirects: 2 }), code: "download.too-many-redirects", words: ["more than 2"], requests: 1 },
    { name: "redirect to ftp", routes: { "/file": [redirect("ftp://user:s3cret@example.com/x")] }, code: "download.invalid-url", words: ["not http(s)", "ftp://*****@"], requests: 1 },
    { name: "checksum mismatch", routes: { "/file": [ok(BODY)] }, extra: () => ({ sha256: "0".repeat(64) }), code: "download.checksum-mismatch", words: ["BINARY_SHA256", "0".repeat(64), BODY_SHA], requests: 1 },
    { name: "deadline before Retry-After", routes: { "/file": [status(503, { "retry-after": "5" })] }, extra: () => ({ deadline: Date.now() + 500, backoff: { baseMs: 1, capMs: 10_000 } }), code: "download.deadline", words: ["deadline", "HTTP 503", "BINARY_FETCH=build"], requests: 1 },
  ])("$name → $code", async ({ routes, extra, code, words, requests }) => {
    for (const [path, replies] of Object.entries(routes)) server.script(path, replies);
    await withGoodFile();
    await expectFailure(download(options(server.url("/file", USER), extra?.())), code, words);
    if (requests !== undefined) expect(server.requests("/file")).toHaveLength(requests);
  });

  it("a refused connection is retried, then download.network", async () => {
    const closed = await startFaultServer();
    const url = closed.url("/file", USER);
    await closed.close();
    await withGoodFile();
    await expectFailure(download(options(url)), "download.network", ["connection failed", "ECONNREFUSED", "attempts: 3"]);
    expect(logs.filter((line) => line.startsWith("Retrying"))).toHaveLength(2);
  });

  it("the caller's abort signal stops a backoff and propagates its reason", async () => {
    server.script("/file", [status(503)]);
    await withGoodFile();
    const controller = new AbortController();
    const attempt = download(options(server.url("/file"), {
      signal: controller.signal, backoff: { baseMs: 60_000, capMs: 60_000 }, log: () => controller.abort(new Error("SIGTERM")),
    }));
    await expect(attempt).rejects.toThrow("SIGTERM");
    expect(await readFile(destination, "utf8")).toBe(GOOD);
    expect(await readdir(dirname(destination))).toEqual(["app.tar.gz"]);
  });
});

describe("retries", () => {
  it.each<[string, Reply, RegExp]>([
    ["503", status(503), /^Retrying in \d\.\ds after HTTP 503 \(attempt 2 of 3\)$/],
    ["reset mid-body", reset(BODY), /after a connection reset \(attempt 2 of 3\)/],
    ["truncated body", truncate(BODY, 100), /after a truncated body \(attempt 2 of 3\)/],
  ])("%s, then success", async (_name, first, logged) => {
    server.script("/file", [first, ok(BODY)]);
    const result = await download(options(server.url("/file")));
    expect(result).toMatchObject({ path: destination, size: BODY.length, sha256: BODY_SHA, fromCache: false });
    expect(await readFile(destination)).toEqual(BODY);
    expect(server.requests("/file")).toHaveLength(2);
    expect(logs.some((line) => logged.test(line))).toBe(true);
    expect(await readdir(dirname(destination))).toEqual(["app.tar.gz"]);
  });

  it.each([
    ["seconds", () => "5"],
    ["an HTTP date", () => new Date(Date.now() + 5_000).toUTCString()],
  ])("429 with Retry-After in %s waits for it, up to the cap", async (_name, retryAfter) => {
    server.script("/file", [status(429, { "retry-after": retryAfter() }), ok(BODY)]);
    const started = Date.now();
    await download(options(server.url("/file"), { backoff: { baseMs: 1, capMs: 300 } }));
    // Jitter alone would wait at most 2 ms here: 300 ms proves Retry-After was read, and capped.
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(logs).toContain("Retrying in 0.3s after HTTP 429 (attempt 2 of 3)");
  });
});

describe("redirects and credentials", () => {
  it("follows a chain across origins and reports the final URL without its query", async () => {
    server.script("/file", [redirect(other.url("/hop"), 301)]);
    other.script("/hop", [redirect("/final?X-Signature=abc", 307)]);
    other.script("/final?X-Signature=abc", [ok(BODY, { "content-type": "application/gzip" })]);
    const result = await download(options(server.url("/file")));
    expect(result).toMatchObject({ sha256: BODY_SHA, contentType: "application/gzip", finalUrl: `${other.url("/final")}?...` });
  });

  it.each([
    ["BINARY_TOKEN", { token: TOKEN }, `Bearer ${TOKEN}`],
    ["a URL password", {}, `Basic ${Buffer.from(USER).toString("base64")}`],
  ])("%s goes to the origin and its same-origin redirects, never to another origin", async (_name, extra, expected) => {
    server.script("/file", [redirect("/moved")]);
    server.script("/moved", [redirect(other.url("/asset"))]);
    other.script("/asset", [ok(BODY)]);
    await download(options(server.url("/file", USER), extra));
    expect(server.requests("/file")[0]?.headers.authorization).toBe(expected);
    expect(server.requests("/moved")[0]?.headers.authorization).toBe(expected);
    expect(other.requests("/asset")[0]?.headers.authorization).toBeUndefined();
    expect(logs.join("\n")).not.toMatch(new RegExp(`${PASSWORD}|${TOKEN}`));
  });
});

describe("the build cache", () => {
  let cacheDir: string;
  beforeEach(() => {
    cacheDir = join(work, "cache", "execpack");
  });

  /** A build that downloads, and whose install succeeds (which confirms the kept archive), unless `installed` is false. */
  async function firstBuild(path: string, extra: Partial<DownloadOptions> = {}, installed = true): Promise<void> {
    server.script(path, [ok(BODY, { etag: '"v1"', "last-modified": "Wed, 01 Jan 2025 00:00:00 GMT" })]);
    const result = await download(options(server.url(path), { cache: { dir: cacheDir }, ...extra }));
    expect(result.fromCache).toBe(false);
    if (installed) await confirmCache(cacheDir);
    await rm(destination); // the next build starts from a fresh build directory
  }

  it("with BINARY_SHA256 pinned and the archive kept, a rebuild needs no server: the release host is down", async () => {
    // No ETag, no Last-Modified: the pin alone names the bytes.
    const host = await startFaultServer({ "/pinned": [ok(BODY)] });
    const url = host.url("/pinned");
    await download(options(url, { cache: { dir: cacheDir }, sha256: BODY_SHA }));
    await confirmCache(cacheDir);
    await rm(destination);
    await host.close(); // nothing listens there any more
    const result = await download(options(url, { cache: { dir: cacheDir }, sha256: BODY_SHA, retries: 0 }));
    expect(result).toMatchObject({ fromCache: true, sha256: BODY_SHA, size: BODY.length });
    expect(sha256(await readFile(destination))).toBe(BODY_SHA);
    expect(logs).toContain("Using cached archive (BINARY_SHA256 matches; nothing was fetched)");
  });

  it("a pinned kept archive that no longer matches its digest is dropped and fetched in full, unconditionally", async () => {
    await firstBuild("/pinned-rot", { sha256: BODY_SHA });
    await writeFile(join(cacheDir, "archive"), Buffer.concat([BODY.subarray(0, 10), Buffer.from("x"), BODY.subarray(11)])); // same size
    server.script("/pinned-rot", [ok(BODY, { etag: '"v1"' })]);
    const result = await download(options(server.url("/pinned-rot"), { cache: { dir: cacheDir }, sha256: BODY_SHA }));
    expect(result).toMatchObject({ fromCache: false, sha256: BODY_SHA });
    expect(server.requests("/pinned-rot").map((request) => request.headers["if-none-match"])).toEqual([undefined]);
    expect(logs.join("\n")).toMatch(/damaged or missing; downloading it again in full/);
  });

  it("an archive whose install did not succeed (damaged on the way, or the build was killed) is never revalidated", async () => {
    await firstBuild("/unconfirmed", {}, false);
    server.script("/unconfirmed", [ok(BODY, { etag: '"v1"' })]);
    const result = await download(options(server.url("/unconfirmed"), { cache: { dir: cacheDir } }));
    expect(result.fromCache).toBe(false);
    expect(server.requests("/unconfirmed").map((request) => request.headers["if-none-match"])).toEqual([undefined]);
    expect(logs).toContain("Ignoring the cached archive: the last build did not install from it");
  });

  it("removes the .partial files a killed build left, and keeps one still being written", async () => {
    await mkdir(dirname(destination), { recursive: true });
    const left = join(dirname(destination), ".app.tar.gz.0123456789ab.partial");
    const writing = join(dirname(destination), ".app.tar.gz.ba9876543210.partial");
    await writeFile(left, "15 MB of an interrupted download");
    await writeFile(writing, "another build's download in progress");
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(left, hourAgo, hourAgo);
    server.script("/file", [ok(BODY)]);
    await download(options(server.url("/file"), { cache: { dir: cacheDir } }));
    expect(existsSync(left)).toBe(false);
    expect(existsSync(writing)).toBe(true);
  });

  it("304 Not Modified reuses the cached archive", async () => {
    await firstBuild("/file");
    server.script("/file", [status(304)]);
    const result = await download(options(server.url("/file"), { cache: { dir: cacheDir } }));
    expect(result).toMatchObject({ fromCache: true, sha256: BODY_SHA, size: BODY.length });
    expect(await readFile(destination)).toEqual(BODY);
    expect(server.requests("/file")[0]?.headers).toMatchObject({ "if-none-match": '"v1"', "if-modified-since": "Wed, 01 Jan 2025 00:00:00 GMT" });
    expect(logs).toContain("Using cached archive (304 Not Modified)");
  });

  it.each([
    ["BINARY_URL", "/v2", {}],
    ["BINARY_SHA256", "/v1", { sha256: `SHA256:${BODY_SHA.toUpperCase()}` }],
  ])("a changed %s invalidates the cache", async (changed, path, extra) => {
    await firstBuild("/v1");
    server.script(path, [ok(BODY)]);
    const result = await download(options(server.url(path), { cache: { dir: cacheDir }, ...extra }));
    expect(result.fromCache).toBe(false);
    expect(server.requests(path)[0]?.headers["if-none-match"]).toBeUndefined();
    expect(logs).toContain(`Ignoring the cached archive: ${changed} changed`);
  });

  it("a corrupt cached archive is dropped and downloaded again", async () => {
    await firstBuild("/file");
    await writeFile(join(cacheDir, "archive"), "bit rot");
    server.script("/file", [status(304), ok(BODY)]);
    const result = await download(options(server.url("/file"), { cache: { dir: cacheDir } }));
    expect(result).toMatchObject({ fromCache: false, sha256: BODY_SHA });
    const [conditional, full] = server.requests("/file");
    expect(conditional?.headers["if-none-match"]).toBe('"v1"');
    expect(full?.headers["if-none-match"]).toBeUndefined();
    expect(logs.join("\n")).toMatch(/damaged or missing; downloading it again in full/);
  });
});

describe("configuration checks", () => {
  it.each([
    ["http://user:s3cret@example.com/app.tgz", {}, "download.insecure-url", ["plain http://", "BINARY_ALLOW_HTTP=1", "http://*****@example.com"]],
    ["not a url", {}, "download.invalid-url", ["not a URL", '"not a url"']],
    ["user:s3cret@example.com/app.tgz", {}, "download.invalid-url", ['not "user:"', "*****@example.com"]],
    ["ftp://user:s3cret@example.com/app.tgz", {}, "download.invalid-url", ["https://", '"ftp:"']],
    ["file://server/share/app.tgz", {}, "download.invalid-url", ["local path"]],
    ["https://example.com/app.tgz", { sha256: "abc" }, "download.invalid-sha256", ["64 hex digits"]],
  ])("%s → %s, without touching the network", async (url, extra, code, words) => {
    await withGoodFile();
    await expectFailure(download(options(url, extra)), code, words);
  });
});

describe("local files and progress", () => {
  it("file:// copies a local release, verified like a download", async () => {
    const source = join(work, "release.tar.gz");
    await writeFile(source, BODY);
    const result = await download(options(pathToFileURL(source).href, { sha256: BODY_SHA }));
    expect(result).toMatchObject({ size: BODY.length, sha256: BODY_SHA, fromCache: false });
    expect(await readFile(destination)).toEqual(BODY);
  });

  it("a missing file:// path is download.not-found", async () => {
    await withGoodFile();
    await expectFailure(download(options(pathToFileURL(join(work, "missing.tgz")).href)), "download.not-found", ["missing.tgz", "ENOENT"]);
  });

  it("reports progress at the end with the total", async () => {
    server.script("/file", [ok(BODY)]);
    const seen: { bytes: number; total?: number }[] = [];
    await download(options(server.url("/file"), { onProgress: (progress) => seen.push(progress) }));
    expect(seen.at(-1)).toMatchObject({ bytes: BODY.length, total: BODY.length });
  });
});

describe("TLS", () => {
  it("verifies certificates even when the app sets NODE_TLS_REJECT_UNAUTHORIZED=0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "execpack-tls-"));
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    try {
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
      const server = createHttpsServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (_request, response) => response.end("binary"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
      try {
        const error = await download({ url: `https://127.0.0.1:${port}/app`, destination: join(dir, "app"), retries: 0 }).then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toBeInstanceOf(ExecpackError);
        expect((error as ExecpackError).code).toBe("download.network");
        expect((error as ExecpackError).seen.join("\n")).toMatch(/SELF_SIGNED|CERT/);
        expect(existsSync(join(dir, "app"))).toBe(false);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
