/**
 * A single-file download is installed under the program's name, its argv[0], whatever the asset is called:
 * installRelease on a file:// release, as a local build runs it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readBinarySettings } from "../../src/common/config.js";
import { installRelease } from "../../src/install/install.js";
import { slugPaths } from "../../src/install/slug.js";
import { HELLO_OUTPUT, helloElf } from "../helpers/elf-binary.js";
import { gz } from "../helpers/release-archives.js";

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "execpack-installed-name-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe("a single-file download", () => {
  it.each([
    ["a bare binary", "caddy_linux_amd64", () => helloElf(), "caddy"],
    ["a gzip'd binary", "app-v1.2-linux-x86_64.gz", () => gz(helloElf()), "app"],
    ["a name with no program in it", "linux-amd64", () => helloElf(), "binary"],
  ])("%s called %s is installed as %s", async (_what, asset, bytes, expected) => {
    const release = join(work, asset);
    writeFileSync(release, bytes());
    const paths = slugPaths(join(work, "app"));
    const settings = readBinarySettings({ BINARY_URL: pathToFileURL(release).href });

    const manifest = await installRelease({ settings, paths, cacheDir: join(work, "cache"), log: () => undefined });

    expect(manifest).toMatchObject({ name: expected, entry: expected });
    expect(readdirSync(paths.binaryDir)).toEqual([expected]);
    expect(JSON.parse(readFileSync(paths.manifest, "utf8"))).toMatchObject({ name: expected });
    expect(execFileSync(join(paths.binaryDir, expected), { encoding: "utf8" })).toContain(HELLO_OUTPUT);
  });
});
