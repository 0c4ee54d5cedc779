/**
 * The uncompressed bytes of a tar, tar.gz or tar.xz download (or a single gzip/xz-compressed file), as one
 * stream: gzip by zlib, xz by the system `xz`. The compressed bytes come from the downloaded file or straight
 * from the download as it arrives (install/install.ts): the same code reads both.
 */
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { isSystemError } from "./safety.js";
import { INFLATE_CHUNK, piped } from "./byte-stream.js";
import { ExecpackError } from "../common/errors.js";

/** The formats read in one streaming pass; "tar.gz" and "gzip" differ only in what the stream holds. */
export type StreamedFormat = "tar" | "tar.gz" | "tar.xz" | "gzip";

/**
 * The uncompressed bytes of `compressed`. Iterating to the end, or stopping early, releases everything (the
 * compressed source included, when it is a stream or a generator).
 */
export function decompressed(format: StreamedFormat, compressed: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  switch (format) {
    case "tar":
      return compressed;
    case "tar.gz":
    case "gzip":
      return piped(compressed, createGunzip({ chunkSize: INFLATE_CHUNK }));
    case "tar.xz":
      return xzDecompress(compressed);
  }
}

/**
 * xz: Node has no xz decoder, so this runs the system `xz`, which every Heroku stack image ships (build and
 * run images alike, so BINARY_FETCH=boot works too). A library would mean a native addon to bundle per
 * architecture (@napi-rs/lzma) or a WebAssembly/JS decoder several times slower than xz itself; spawning
 * keeps the slug free of both and streams with the pipe's backpressure.
 */
async function* xzDecompress(compressed: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // Loaded here, for an xz release only: node:child_process (with dgram behind it) is 3 MB and 5 ms that the
  // install step of a zip or tar.gz never needs.
  const { spawn } = await import("node:child_process");
  const child = spawn("xz", ["--decompress", "--stdout"], { stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  // When the consumer stops early this promise is never awaited; its error, if any, is then moot.
  exited.catch(() => undefined);
  // xz reads the compressed bytes on its stdin, with the pipe's backpressure. A failure to feed it (xz exited
  // early: EPIPE) says less than xz's own status and message below, so it is reported only when xz succeeded.
  let feedFailure: unknown;
  const feeding = pipeline(compressed, child.stdin).catch((error: unknown) => {
    feedFailure = error;
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr = (stderr + text).slice(0, 1000);
  });
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (code !== 0) throw new Error(stderr.trim() || `xz exited with status ${code}`);
    await feeding;
    if (feedFailure !== undefined) throw feedFailure;
  } catch (error) {
    if (isSystemError(error) && error.code === "ENOENT" && error.syscall.startsWith("spawn")) throw xzUnavailable(error);
    throw error;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    child.stdin.destroy();
  }
}

function xzUnavailable(cause: unknown): ExecpackError {
  const summary = 'The release is a tar.xz archive, but the "xz" program is not installed';
  return new ExecpackError("archive.xz-unavailable", summary, {
    hint:
      "Heroku's stack images ship xz. On another image install xz-utils, " +
      "or point BINARY_URL at the release's .tar.gz or .zip asset.",
    cause,
  });
}
