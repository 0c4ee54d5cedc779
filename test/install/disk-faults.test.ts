/**
 * Disk errors while the release is written into the slug (the tree, the manifest) end in the same codes as a
 * download's (common/disk.ts): install.disk-full, install.read-only, install.permission-denied, saying where
 * and how much was needed, with nothing retried and nothing half-installed: the release of the previous build
 * and its manifest stay as they were, and no staging folder is left behind. On a real 2 MB tmpfs; EACCES as
 * nobody (root writes anywhere). EDQUOT needs quotas, which a tmpfs in a test cannot have: its mapping is in
 * test/common/disk.test.ts.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBinarySettings } from "../../src/common/config.js";
import { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { installRelease } from "../../src/install/install.js";
import { slugPaths } from "../../src/install/slug.js";
import type { SlugPaths } from "../../src/install/slug.js";
import { helloElf } from "../helpers/elf-binary.js";
import { file, tarGz, zip } from "../helpers/release-archives.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { CAN_MOUNT_TMPFS, mountTmpfs, remount, unmount } from "../helpers/tmpfs.js";

const execFileAsync = promisify(execFile);

describe.skipIf(!CAN_MOUNT_TMPFS)("disk errors while installing the release, on a real 2 MB tmpfs (skipped where this user cannot mount a tmpfs)", () => {
  let work: string;
  let disk: string;
  let server: StaticServer;
  let paths: SlugPaths;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "execpack-install-disk-"));
    disk = mountTmpfs("2m")!;
    const releases = join(work, "releases");
    mkdirSync(releases);
    writeFileSync(join(releases, "small_linux_amd64.tar.gz"), tarGz([file("small/small", helloElf())]));
    // Random bytes do not compress: a 3 MB tree in a 3 MB archive, which a 2 MB disk cannot hold.
    writeFileSync(join(releases, "big_linux_amd64.tar.gz"), tarGz([file("big/big", helloElf()), file("big/share/data.bin", randomBytes(3 * 1024 * 1024), 0o644)]));
    // The same 3 MB as 15 small files, which are written whole with synchronous calls (archive/byte-stream.ts).
    const smallFiles = [file("many/many", helloElf()), ...Array.from({ length: 15 }, (_, index) => file(`many/share/${index}.bin`, randomBytes(200 * 1024), 0o644))];
    writeFileSync(join(releases, "many_linux_amd64.tar.gz"), tarGz(smallFiles));
    writeFileSync(join(releases, "many_linux_amd64.zip"), await zip(smallFiles));
    server = await serveDirectory(releases);
    paths = slugPaths(join(disk, "app"));
    // The previous build's release, which no failure below may touch.
    await installRelease({ settings: settings("small_linux_amd64.tar.gz"), paths, cacheDir: join(work, "cache"), log: () => undefined });
  });

  afterAll(async () => {
    await server?.close();
    if (disk) {
      chmodSync(disk, 0o755);
      unmount(disk);
    }
    rmSync(work, { recursive: true, force: true });
  });

  function settings(asset: string) {
    return readBinarySettings({ BINARY_URL: `${server.url}/${asset}` });
  }

  async function failure(asset: string): Promise<ExecpackError> {
    const error = await installRelease({ settings: settings(asset), paths, cacheDir: join(work, "cache"), log: () => undefined }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ExecpackError);
    return error as ExecpackError;
  }

  function expectPreviousReleaseIntact(): void {
    expect(readdirSync(paths.binaryDir)).toEqual(["small"]);
    expect(readFileSync(join(paths.binaryDir, "small"))).toEqual(helloElf());
    expect(JSON.parse(readFileSync(paths.manifest, "utf8"))).toMatchObject({ name: "small", path: "small" });
    // No staging folder, no manifest being written, no previous release set aside: only what was there.
    expect(readdirSync(paths.root).sort()).toEqual(["binary", "binary.json"]);
  }

  it("a release that does not fit is install.disk-full: where, how much at least, how much is free; one request, the previous release intact", async () => {
    const before = server.requests.length;
    const error = await failure("big_linux_amd64.tar.gz");
    const text = formatError(error);
    expect(error.code, text).toBe("install.disk-full");
    expect(text).toContain("The disk is full: could not write the release");
    expect(text).toContain(`where: "${paths.root}"`);
    expect(text).toMatch(/needed: at least \d+\.\d MiB/);
    expect(text).toMatch(/free: \d/);
    expect(text).not.toMatch(/connection|network|retry/i);
    expect(server.requests.length - before).toBe(1); // never fetched again, never retried
    expectPreviousReleaseIntact();
  });

  it.each(["many_linux_amd64.tar.gz", "many_linux_amd64.zip"])("%s, small files that do not fit, is install.disk-full as well, the previous release intact", async (asset) => {
    const error = await failure(asset);
    const text = formatError(error);
    expect(error.code, text).toBe("install.disk-full");
    expect(text).toContain('could not write the release (at "many/share/');
    expect(text).toMatch(/needed: at least \d+\.\d MiB/);
    expectPreviousReleaseIntact();
  });

  it("a read-only file system is install.read-only, the previous release intact", async () => {
    remount(disk, "ro");
    try {
      const error = await failure("small_linux_amd64.tar.gz");
      const text = formatError(error);
      expect(error.code, text).toBe("install.read-only");
      expect(text).toContain(paths.root);
      expectPreviousReleaseIntact();
    } finally {
      remount(disk, "rw");
    }
  });

  it("a slug directory the build's user cannot write is install.permission-denied (run as nobody)", async () => {
    const scratch = join(work, "nobody");
    mkdirSync(scratch, { mode: 0o777 });
    chmodSync(scratch, 0o777);
    chmodSync(work, 0o755);
    const locked = slugPaths(join(disk, "locked-app"));
    mkdirSync(locked.root, { recursive: true, mode: 0o555 });
    chmodSync(locked.root, 0o555);
    const script = `
      import { installRelease } from ${JSON.stringify(join(process.cwd(), "src/install/install.ts"))};
      import { readBinarySettings } from ${JSON.stringify(join(process.cwd(), "src/common/config.ts"))};
      try {
        await installRelease({ settings: readBinarySettings({ BINARY_URL: ${JSON.stringify(`${server.url}/small_linux_amd64.tar.gz`)} }),
          paths: ${JSON.stringify(locked)}, cacheDir: ${JSON.stringify(join(scratch, "cache"))}, log: () => undefined });
        console.log("installed");
      } catch (error) { console.log(error.code, JSON.stringify(error.seen)); }`;
    // Not spawnSync: the server answering the download runs in this process's event loop.
    const { stdout } = await execFileAsync(join(process.cwd(), "node_modules/.bin/node"), ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8", uid: 65534, gid: 65534, cwd: process.cwd(), env: { ...process.env, HOME: scratch, TMPDIR: scratch },
    });
    expect(stdout.trim()).toMatch(/^install\.permission-denied /);
    expect(stdout).toContain(locked.root);
    expect(readdirSync(locked.root)).toEqual([]);
  });
});
