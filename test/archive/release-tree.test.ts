/**
 * The whole release on disk: layout kept, a single top folder stripped, builds for other systems left out,
 * links inside the release kept and links out of it refused, entries named like execpack's own working names
 * installed as plain files of the release, and thousands of programs extracted without running out of files.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { lstat, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { extractRelease } from "../../src/archive/extract.js";
import type { ExtractOptions, ExtractResult } from "../../src/archive/extract.js";
import { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { ASSET_ARCH, HELLO_OUTPUT, HOST_ARCHITECTURE, OTHER_ARCHITECTURE, elfHeader, helloElf, machO, windowsPe } from "../helpers/elf-binary.js";
import { file, tar, tarGz, zip } from "../helpers/release-archives.js";
import type { Entry } from "../helpers/release-archives.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const ELF = helloElf();
const OTHER_ELF = elfHeader({ machine: OTHER_ARCHITECTURE });
const HOST = ASSET_ARCH[HOST_ARCHITECTURE];

let workdir: string;

beforeEach(async () => {
  workdir = await mkdtemp(join(tmpdir(), "execpack-release-"));
});

afterEach(async () => {
  await rm(workdir, { recursive: true, force: true });
});

async function extract(bytes: Buffer, options: Partial<ExtractOptions> = {}): Promise<ExtractResult> {
  const archivePath = join(workdir, "release.download");
  await writeFile(archivePath, bytes);
  return extractRelease({ archivePath, staging: join(workdir, "staging"), architecture: HOST_ARCHITECTURE, ...options });
}

/** Every path under a folder, links shown with their targets, sorted. */
async function tree(root: string, prefix = ""): Promise<string[]> {
  const lines: string[] = [];
  for (const name of (await readdir(join(root, prefix))).sort()) {
    const path = prefix === "" ? name : `${prefix}/${name}`;
    const stats = await lstat(join(root, path));
    if (stats.isSymbolicLink()) lines.push(`${path} -> ${await readlink(join(root, path))}`);
    else if (stats.isDirectory()) lines.push(`${path}/`, ...(await tree(root, path)));
    else lines.push(path);
  }
  return lines;
}

const prometheusLike = (format: "tar.gz" | "zip") => {
  const top = `prometheus-2.42.0.linux-${HOST}`;
  const entries: Entry[] = [
    { path: `${top}/`, directory: true },
    file(`${top}/prometheus`, ELF),
    file(`${top}/promtool`, ELF),
    file(`${top}/prometheus.yml`, "global: {}\n", 0o644),
    file(`${top}/consoles/index.html.example`, "<html></html>\n", 0o644),
    file(`${top}/LICENSE`, "Apache\n", 0o600),
  ];
  return format === "zip" ? zip(entries) : Promise.resolve(tarGz(entries));
};

describe("the whole release is installed", () => {
  it.each(["tar.gz", "zip"] as const)("from a %s, its single top folder stripped, the binary named like the release chosen", async (format) => {
    const result = await extract(await prometheusLike(format), { releaseName: `prometheus-2.42.0.linux-${HOST}.${format}` });
    expect(await tree(result.root)).toEqual(["LICENSE", "consoles/", "consoles/index.html.example", "prometheus", "prometheus.yml", "promtool"]);
    expect(result).toMatchObject({ entry: `prometheus-2.42.0.linux-${HOST}/prometheus`, path: "prometheus", executables: ["prometheus", "promtool"], files: 5 });
    expect(execFileSync(join(result.root, "promtool"), { encoding: "utf8" }).trim()).toBe(HELLO_OUTPUT);
    expect((await stat(join(result.root, "prometheus.yml"))).mode & 0o777).toBe(0o644);
    expect((await stat(join(result.root, "LICENSE"))).mode & 0o777).toBe(0o644); // readable, whatever the archive said
  });

  it("chooses by the top folder's name when the download has none (etcd-v3.4.23-linux-amd64)", async () => {
    const top = `etcd-v3.4.23-linux-${HOST}`;
    const result = await extract(await zip([file(`${top}/etcdctl`, ELF), file(`${top}/etcd`, ELF), file(`${top}/README.md`, "# etcd\n")]));
    expect(result.path).toBe("etcd");
  });

  it("leaves out builds for other systems and architectures, and keeps everything else", async () => {
    const result = await extract(
      await zip([
        file("README.md", "# app\n"),
        file(`app-linux-${HOST}/app`, ELF),
        file(`app-linux-${HOST}/lib/libhelper.so.1`, ELF),
        file("app-darwin-arm64/app", machO()),
        file("app-windows/app.exe", windowsPe()),
        file("app-linux-other/app", OTHER_ELF),
      ]),
    );
    expect(await tree(result.root)).toEqual(["README.md", `app-linux-${HOST}/`, `app-linux-${HOST}/app`, `app-linux-${HOST}/lib/`, `app-linux-${HOST}/lib/libhelper.so.1`]);
    expect(result.leftOut).toEqual(["app-darwin-arm64/app", "app-windows/app.exe", "app-linux-other/app"]);
    expect(result.executables).toEqual([`app-linux-${HOST}/app`]);
  });

  it("keeps links inside the release: busybox applets by symlink and by hard link, a library's soname", async () => {
    const top = "busybox-1.35.0";
    const result = await extract(
      tarGz([
        file(`${top}/bin/busybox`, ELF),
        { path: `${top}/bin/sh`, symlink: "busybox" },
        { path: `${top}/bin/ls`, hardlink: `${top}/bin/busybox` },
        { path: `${top}/sbin/init`, symlink: "../bin/busybox" },
        file(`${top}/lib/libx.so.1.2`, ELF),
        { path: `${top}/lib/libx.so.1`, symlink: "libx.so.1.2" },
      ]),
    );
    expect(await tree(result.root)).toEqual(["bin/", "bin/busybox", "bin/ls", "bin/sh -> busybox", "lib/", "lib/libx.so.1 -> libx.so.1.2", "lib/libx.so.1.2", "sbin/", "sbin/init -> ../bin/busybox"]);
    expect((await stat(join(result.root, "bin/ls"))).ino).toBe((await stat(join(result.root, "bin/busybox"))).ino);
    expect(result.executables).toEqual(["bin/busybox", "bin/ls", "bin/sh", "sbin/init"]);
    expect(result.path).toBe("bin/busybox");
  });

  it("leaves out a hard link to a build for another system along with it", async () => {
    const result = await extract(tar([file("app/app", ELF), file("app/app-darwin", machO()), { path: "app/app-mac", hardlink: "app/app-darwin" }]));
    expect(await tree(result.root)).toEqual(["app"]);
    expect(result.leftOut).toEqual(["app/app-darwin"]);
  });

  it("leaves out a symlink that points at nothing in the release", async () => {
    const result = await extract(tarGz([file("app/app", ELF), { path: "app/docs", symlink: "share/doc" }, { path: "app/current", symlink: "missing" }]));
    expect(await tree(result.root)).toEqual(["app"]);
    expect(result.leftOut).toEqual(["docs", "current"]);
  });

  it.each([".incoming", "binary.json", "binary", "commands", "staging", "boot-binary", ".execpack", "app-dir", "node", "bin"])(
    "installs an entry named %s as a plain file of the release, beside the binary",
    async (name) => {
      const result = await extract(tarGz([file(`app-1.0/${name}`, "not execpack's\n", 0o644), file("app-1.0/app", ELF)]));
      expect(await readFile(join(result.root, name), "utf8")).toBe("not execpack's\n");
      expect(result.path).toBe("app");
      expect(await readdir(join(workdir, "staging"))).toEqual(["app-1.0"]);
    },
  );

  it("writes a release of 1,500 programs without running out of file descriptors (ulimit -n 200)", () => {
    const script = [
      'import { writeFileSync } from "node:fs";',
      `import { extractRelease } from ${JSON.stringify(join(REPO, "src/archive/extract.ts"))};`,
      `import { file, tar } from ${JSON.stringify(join(REPO, "test/helpers/release-archives.ts"))};`,
      `import { helloElf } from ${JSON.stringify(join(REPO, "test/helpers/elf-binary.ts"))};`,
      "const elf = helloElf();",
      'const entries = Array.from({ length: 1500 }, (_, i) => file(`tools/tool-${i}`, elf));',
      `writeFileSync(${JSON.stringify(join(workdir, "many.tar"))}, tar([...entries, file("app", elf)]));`,
      `const result = await extractRelease({ archivePath: ${JSON.stringify(join(workdir, "many.tar"))}, staging: ${JSON.stringify(join(workdir, "many"))}, binaryName: "app" });`,
      "console.log(result.executables.length);",
    ].join("\n");
    const scriptFile = join(workdir, "many.mts");
    return writeFile(scriptFile, script).then(() => {
      const run = spawnSync("bash", ["-c", 'ulimit -n 200 && exec "$0" "$@"', join(REPO, "node_modules/.bin/tsx"), scriptFile], { encoding: "utf8", cwd: REPO });
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe("1501");
    });
  });
});

describe("links that leave the release are refused", () => {
  it.each<[string, Entry[], string]>([
    ["an absolute symlink", [file("app/app", ELF), { path: "app/etc", symlink: "/etc/passwd" }], '"etc" -> "/etc/passwd"'],
    ["a symlink climbing out of the root", [file("app/app", ELF), { path: "app/up", symlink: "../../outside" }], '"up" -> "../../outside"'],
    ["a symlink to the stripped top folder's parent", [file("app/app", ELF), { path: "app/bin/x", symlink: "../../secret" }], '"bin/x" -> "../../secret"'],
    ["a chain that only escapes on disk", [file("app/app", ELF), { path: "app/d", symlink: "." }, { path: "app/x", symlink: "d/../y" }], "through other links"],
    ["a hard link to nothing in the archive", [file("app/app", ELF), { path: "app/h", hardlink: "app/nothing" }], '"app/h" => "app/nothing"'],
    ["a file written through a folder that is a link", [file("app/app", ELF), { path: "app/dir", symlink: "sub" }, file("app/dir/evil", "x")], "both a folder"],
  ])("%s", async (_case, entries, seen) => {
    const error = await extract(tar(entries)).then(
      () => expect.fail("extraction should have failed"),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ExecpackError);
    const text = formatError(error as ExecpackError);
    expect((error as ExecpackError).code, text).toBe("archive.unsafe-entry");
    expect(text).toContain(seen);
    await expect(readdir(workdir)).resolves.toEqual(["release.download"]);
  });
});
