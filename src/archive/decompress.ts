/**
 * The uncompressed bytes of a tar, tar.gz or tar.xz download (or a single gzip/xz-compressed file), as one
 * stream: gzip by zlib, xz by the system `xz`.
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { isSystemError } from "./safety.js";
import { INFLATE_CHUNK, READ_CHUNK, piped } from "./byte-stream.js";
import { ExecpackError } from "../common/errors.js";

/** The formats read in one streaming pass; "tar.gz" and "gzip" differ only in what the stream holds. */
export type StreamedFormat = "tar" | "tar.gz" | "tar.xz" | "gzip";

/** The uncompressed bytes of the download. Iterating to the end, or stopping early, releases everything. */
export function decompressed(format: StreamedFormat, path: string): AsyncIterable<Buffer> {
  switch (format) {
    case "tar":
      return createReadStream(path, { highWaterMark: READ_CHUNK });
    case "tar.gz":
    case "gzip":
      return gunzipFile(path);
    case "tar.xz":
      return xzDecompress(path);
  }
}

function gunzipFile(path: string): AsyncGenerator<Buffer> {
  return piped(createReadStream(path, { highWaterMark: READ_CHUNK }), createGunzip({ chunkSize: INFLATE_CHUNK }));
}

/**
 * xz: Node has no xz decoder, so this runs the system `xz`, which every Heroku stack image ships (build and
 * run images alike, so BINARY_FETCH=boot works too). A library would mean a native addon to bundle per
 * architecture (@napi-rs/lzma) or a WebAssembly/JS decoder several times slower than xz itself; spawning
 * keeps the slug free of both and streams with the pipe's backpressure.
 */
async function* xzDecompress(path: string): AsyncGenerator<Buffer> {
  const child = spawn("xz", ["--decompress", "--stdout", "--", path], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  // When the consumer stops early this promise is never awaited; its error, if any, is then moot.
  exited.catch(() => undefined);
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr = (stderr + text).slice(0, 1000);
  });
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (code !== 0) throw new Error(stderr.trim() || `xz exited with status ${code}`);
  } catch (error) {
    if (isSystemError(error) && error.code === "ENOENT" && error.syscall.startsWith("spawn")) throw xzUnavailable(error);
    throw error;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
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
