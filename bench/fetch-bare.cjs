/**
 * A bare Node.js fetch + extract, for bench/fetch.ts: what `curl -o` + `unzip` do, in as little Node.js as
 * it takes. node:http (no undici to load), the download hashed and written as it arrives, then the zip's one
 * entry inflated in a single call straight from its local header, hashed, and written in one write. No
 * checks, no retries, no archive safety, no build cache: not something to ship. At small sizes, where
 * Node.js's own start and I/O are most of the time, it is the least any Node.js install step can take; at
 * large ones it is slower than the install step, which inflates while it writes.
 * Usage: node fetch-bare.cjs <zip-url> <dir>    (plain CommonJS: nothing to bundle or load)
 */
"use strict";
const { createHash } = require("node:crypto");
const { closeSync, openSync, readFileSync, writeFileSync, writeSync } = require("node:fs");
const http = require("node:http");
const { inflateRaw } = require("node:zlib");

const [url, dir] = process.argv.slice(2);
http.get(url, (response) => {
  const hash = createHash("sha256");
  const fd = openSync(`${dir}/release.zip`, "w");
  response.on("data", (chunk) => {
    hash.update(chunk);
    writeSync(fd, chunk);
  });
  response.on("end", () => {
    closeSync(fd);
    hash.digest("hex");
    const zip = readFileSync(`${dir}/release.zip`);
    // The first local file header: sizes at 18, name and extra lengths at 26 and 28. A size of 0 means a data
    // descriptor follows the data; raw inflate stops at the end of its deflate stream either way.
    const start = 30 + zip.readUInt16LE(26) + zip.readUInt16LE(28);
    const size = zip.readUInt32LE(18) || zip.length - start;
    inflateRaw(zip.subarray(start, start + size), (error, binary) => {
      if (error) throw error;
      createHash("sha256").update(binary).digest("hex");
      writeFileSync(`${dir}/app`, binary, { mode: 0o755 });
      process.stdout.write(`${JSON.stringify({ size: binary.length })}\n`);
    });
  });
});
