/** Streams of bytes as the archive readers consume them: the chunk sizes they read and inflate with, peek and piped. */
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * Chunk sizes of the extraction. Node's defaults (64 KiB reads, 16 KiB of inflated output) cut a 200 MB
 * binary into some 13,000 chunks, each a hash update, a write and a trip through the stream machinery:
 * that overhead, not zlib, made extraction take half again as long as `unzip` (bench/fetch.ts). Larger
 * chunks cost memory: spent chunks are freed only by a garbage collection, which the few JavaScript objects
 * of a large chunk rarely bring about. Measured against each other (bench/fetch.ts, 200 MiB, one machine,
 * interleaved): 64 KiB both ways took extraction from 1.0-1.6 s to 1.8-2.2 s (0.91-0.98x of curl + unzip
 * became 1.33-1.37x) to save some 10 MB of peak RSS at 500 MB (bench/compile-memory.ts); 1 MiB chunks
 * added some 40 MB. 256 KiB it stays.
 */
export const READ_CHUNK = 256 * 1024;
export const INFLATE_CHUNK = 256 * 1024;

/**
 * Files up to this size are read, inflated and written whole, with synchronous calls (release-tree.ts,
 * zip.ts, tar.ts). Streamed, each file waited on a dozen thread-pool round trips (open, read, inflate, close on
 * the archive's side; lstat, open, write, chmod, close on the release's): a release of 1,400 small files beside
 * its binary (a bundled runtime's library, a web UI's assets) took 4.8 s from a zip where `curl` + `unzip` take
 * 1.5, and 2.2 s with this (FETCH_BENCH_FILES=1400 FETCH_BENCH_MIB=10 npx tsx bench/fetch.ts). Larger files
 * stream, so inflating (in the thread pool), hashing and writing overlap. At most this much is held at once.
 */
export const SMALL_FILE_BYTES = 1024 * 1024;

/** Everything `chunks` yields, as one Buffer (for a file of at most SMALL_FILE_BYTES). */
export async function concatAll(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * Bytes written between two young-generation collections, when the process may ask for them (bin/compile
 * starts the install step with --expose-gc). A spent chunk's memory is outside V8's heap and is freed only
 * when its small JavaScript object is collected, and the young generation (1 MB in bin/compile) fills with
 * those objects only every 50 MB or so of chunks: a zip of 500 MB left some 25 MB of spent chunks waiting
 * (bench/compile-memory.ts). A collection every 2 MiB costs some 0.3 ms each, some 75 ms for 500 MB that
 * measured no slower (fewer chunks waiting to be freed), and holds the zip's peak 4 MB lower than every 4 MiB.
 *
 * Every 8th collection (16 MiB) is a full one: a chunk still queued in a stream when a young collection comes
 * is moved to the old generation, where only a full collection frees it, and those come rarely with a heap
 * this small. The install step on a 500 MB tar.gz, whose chunks wait in several streams at the network's pace,
 * peaked at 75 MiB in most runs and 94 MiB in some with none, 77-79 MiB with one every 32 MiB, 73-75 MiB with
 * one every 16 MiB, and 72 MiB with one every 8 MiB, but 6% slower (bench/compile-memory.ts measures the build).
 */
const COLLECT_EVERY_BYTES = 2 * 1024 * 1024;
const FULL_COLLECTION_EVERY = 8;
let writtenSinceCollection = 0;
let collections = 0;
const collect = (globalThis as { gc?: (options: { type: "minor" | "major" }) => void }).gc;

/** Counts bytes written out; every few MiB, collects (when exposed), freeing spent chunks. */
export function spent(bytes: number): void {
  if (collect === undefined) return;
  writtenSinceCollection += bytes;
  if (writtenSinceCollection < COLLECT_EVERY_BYTES) return;
  writtenSinceCollection = 0;
  collections = (collections + 1) % FULL_COLLECTION_EVERY;
  collect({ type: collections === 0 ? "major" : "minor" });
}

/**
 * Reads until `length` bytes (or the end). `all` then yields everything, the head included, exactly once;
 * `release` stops the source when `all` is not read to its end (it may then be an xz process to end).
 */
export async function peek(
  source: AsyncIterable<Buffer>,
  length: number,
): Promise<{ head: Buffer; all: AsyncIterable<Buffer>; release: () => Promise<unknown> }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < length) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    while (!done) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, all: all(), release: async () => iterator.return?.() };
}

/**
 * What `transform` (a gunzip, an inflate) makes of `source`. A read error destroys `transform` with that
 * error, so it surfaces in the loop below; when the consumer stops early, the "premature close" reported
 * by the pipeline is expected. Iterating to the end, or stopping early, releases both streams.
 */
export async function* piped(source: Readable | AsyncIterable<Buffer>, transform: Transform): AsyncGenerator<Buffer> {
  const reading = pipeline(source, transform);
  reading.catch(() => undefined);
  try {
    for await (const chunk of transform) yield chunk as Buffer;
    await reading;
  } finally {
    transform.destroy();
  }
}
