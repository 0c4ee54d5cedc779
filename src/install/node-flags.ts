/**
 * The Node.js flags of a process that downloads and extracts a release: the build's install step (bin/compile
 * and bin/build keep the same list as BOOTSTRAPPER_INSTALL_NODE_FLAGS in lib/bootstrapper.sh, which says why
 * each is there; test/project/node-flags.test.ts holds the two equal), the boot-time fetch's child process and
 * bench/fetch.ts's.
 * In short: a 1 MB young generation, collections the extraction may ask for (archive/byte-stream.ts), undici's
 * WebAssembly parser left to Liftoff, and no TurboFan: less memory, and no slower (bench/compile-memory.ts,
 * bench/fetch.ts, bench/boot-fetch.ts).
 */
export const INSTALL_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--expose-gc", "--liftoff-only", "--max-opt=2"];

/** Two malloc arenas instead of one per thread (libuv's pool writes and inflates): a few MB less. */
export const INSTALL_MALLOC_ARENA_MAX = "2";
