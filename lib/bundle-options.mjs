/**
 * How the bootstrapper is bundled, shared by lib/build-bootstrapper.mjs (dist/) and bench/fetch.ts's runner,
 * which must load as the install step does to measure it.
 */

/**
 * node:http2 left out: downloads run HTTP/1.1 (allowH2: false, src/fetch/session.ts), and undici's client-h2.js,
 * which loads node:http2 at its top, already falls back to `{ constants: {} }` when requiring it throws. Loading
 * it, and tls behind it, cost the install step some 10 MB of memory and 25 ms before the first byte.
 */
const withoutHttp2 = {
  name: "without-http2",
  setup(build) {
    build.onResolve({ filter: /^node:http2$/ }, () => ({ path: "http2", namespace: "without-http2" }));
    build.onLoad({ filter: /.*/, namespace: "without-http2" }, () => ({
      contents: 'throw new Error("node:http2 is left out of the execpack bundles: downloads use HTTP/1.1");',
      loader: "js",
    }));
  },
};

/** The sources are ES modules that find their files from import.meta.url: each bundle defines it first. */
export const MODULE_URL_BANNER = 'const __execpack_module_url = require("node:url").pathToFileURL(__filename).href;';

export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22.19",
  // `esbuildDetection` is what undici checks to leave out its experimental Milo HTTP parser when bundled
  // (client-h1.js; llhttp parses either way): 0.2 MB less for every Node.js that loads the install step or the
  // boot-time fetch to compile.
  define: { "import.meta.url": "__execpack_module_url", esbuildDetection: "true" },
  // Module paths as the checkout names them, not as its links resolve: the bundles' path comments are the same
  // in a checkout whose node_modules is a link to another's (a git worktree), so dist/ stays reproducible.
  preserveSymlinks: true,
  plugins: [withoutHttp2],
};
