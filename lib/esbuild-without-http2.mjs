/**
 * An esbuild plugin for the bundles that download (lib/build-bootstrapper.mjs, and bench/fetch.ts's runner,
 * built the same way): node:http2 is left out. Downloads run HTTP/1.1 (allowH2: false, src/fetch/session.ts),
 * and undici's client-h2.js, which loads node:http2 at its top, already falls back to `{ constants: {} }` when
 * requiring it throws. Loading it, and tls behind it, cost the install step some 10 MB of memory and 25 ms
 * before the first byte.
 */
export const withoutHttp2 = {
  name: "without-http2",
  setup(build) {
    build.onResolve({ filter: /^node:http2$/ }, () => ({ path: "http2", namespace: "without-http2" }));
    build.onLoad({ filter: /.*/, namespace: "without-http2" }, () => ({
      contents: 'throw new Error("node:http2 is left out of the execpack bundles: downloads use HTTP/1.1");',
      loader: "js",
    }));
  },
};
