/**
 * Real releases as they ship, rebuilt in their upstream layout from Debian's packages (helpers/debian-packages.ts):
 * Prometheus (a Go server with a companion and files beside it), busybox (a multi-call binary reached through
 * an in-release symlink), PostgreSQL's client tools (dynamically linked C programs that find themselves through
 * argv[0] and PATH). Each is built by the real bin/compile from a release served on loopback, the slug moved,
 * and started like a dyno: .profile.d sourced, a clean environment with no Node.js on PATH.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { debianPackage, debianVersion } from "./helpers/debian-packages.js";
import { nodeMirror } from "./helpers/node-mirror.js";
import { serveDirectory } from "../helpers/static-server.js";
import type { StaticServer } from "../helpers/static-server.js";
import { offlineNpm } from "./helpers/build-env.js";
import { watchDyno } from "./helpers/dyno.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** A tar.gz of `top/` as the project would publish it, built with the system's tar (gzip -1: these are big). */
function packRelease(stage: string, top: string, archive: string): void {
  execFileSync("bash", ["-c", 'tar -C "$1" --owner=0 --group=0 -cf - "$2" | gzip -1 >"$3"', "pack", stage, top, archive]);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls until the server answers with anything but 503: Prometheus answers /-/ready with 503 while its TSDB opens. */
async function waitForHttp(url: string, exited: Promise<unknown>): Promise<Response> {
  let done = false;
  void exited.then(() => (done = true));
  let last: Response | undefined;
  for (let attempt = 0; attempt < 600 && !done; attempt++) {
    try {
      last = await fetch(url);
      if (last.status !== 503) return last;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (last) return last;
  throw new Error(`${url} never answered`);
}

function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
}

function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
}

describe("real releases, built from Debian's packages in their upstream layout", () => {
  let workDir: string;
  let releases: StaticServer;
  let mirror: StaticServer;
  let stackPath: string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-real-"));
    const stage = join(workDir, "stage");
    const site = join(workDir, "site");
    mkdirSync(site);

    // prometheus-2.42.0.linux-amd64.tar.gz: prometheus, promtool, prometheus.yml, consoles/, console_libraries/
    const prometheus = debianPackage("prometheus");
    const promTop = `prometheus-${debianVersion("prometheus").split("+")[0]}.linux-amd64`;
    mkdirSync(join(stage, promTop), { recursive: true });
    cpSync(join(prometheus, "usr/bin/prometheus"), join(stage, promTop, "prometheus"));
    cpSync(join(prometheus, "usr/bin/promtool"), join(stage, promTop, "promtool"));
    cpSync(join(prometheus, "etc/prometheus/prometheus.yml"), join(stage, promTop, "prometheus.yml"));
    cpSync(join(prometheus, "usr/share/doc/prometheus/examples/consoles"), join(stage, promTop, "consoles"), { recursive: true });
    cpSync(join(prometheus, "usr/share/doc/prometheus/examples/console_libraries"), join(stage, promTop, "console_libraries"), { recursive: true });
    cpSync(join(prometheus, "usr/share/doc/prometheus/copyright"), join(stage, promTop, "LICENSE"));
    packRelease(stage, promTop, join(site, `${promTop}.tar.gz`));

    // busybox-1.35.0.tar.gz: bin/busybox and its applets as symlinks, a www/ folder to serve
    const busybox = debianPackage("busybox");
    const boxTop = `busybox-${debianVersion("busybox").split("-")[0]}`;
    mkdirSync(join(stage, boxTop, "bin"), { recursive: true });
    mkdirSync(join(stage, boxTop, "www"), { recursive: true });
    cpSync(join(busybox, "bin/busybox"), join(stage, boxTop, "bin/busybox"));
    for (const applet of ["httpd", "sh", "wget"]) symlinkSync("busybox", join(stage, boxTop, "bin", applet));
    writeFileSync(join(stage, boxTop, "www/index.html"), "served by busybox from the release\n");
    packRelease(stage, boxTop, join(site, `${boxTop}.tar.gz`));

    // postgresql-15.x.linux-amd64.tar.gz: bin/psql, pg_dump, pg_dumpall, pg_config as PostgreSQL lays them out
    const postgres = debianPackage("postgresql-client-15");
    const pgTop = `postgresql-${debianVersion("postgresql-client-15").split("-")[0]}.linux-amd64`;
    mkdirSync(join(stage, pgTop, "bin"), { recursive: true });
    for (const tool of ["psql", "pg_dump", "pg_dumpall", "pg_config"]) {
      cpSync(join(postgres, "usr/lib/postgresql/15/bin", tool), join(stage, pgTop, "bin", tool));
    }
    packRelease(stage, pgTop, join(site, `${pgTop}.tar.gz`));

    // lzop-1.04.linux-amd64.tar.gz, twice: bare (liblzo2 is not on the stack), and with liblzo2 vendored in lib/
    const lzop = debianPackage("lzop");
    const lzo = debianPackage("liblzo2-2");
    for (const [top, vendored] of [["lzop-1.04.linux-amd64", false], ["lzop-vendored-1.04.linux-amd64", true]] as const) {
      mkdirSync(join(stage, top, "bin"), { recursive: true });
      cpSync(join(lzop, "usr/bin/lzop"), join(stage, top, "bin/lzop"));
      if (vendored) {
        mkdirSync(join(stage, top, "lib"), { recursive: true });
        cpSync(join(lzo, "lib/x86_64-linux-gnu/liblzo2.so.2.0.0"), join(stage, top, "lib/liblzo2.so.2.0.0"));
        symlinkSync("liblzo2.so.2.0.0", join(stage, top, "lib/liblzo2.so.2"));
      }
      packRelease(stage, top, join(site, `${top}.tar.gz`));
    }

    releases = await serveDirectory(site);
    mirror = await serveDirectory(nodeMirror());
    // A stack without PostgreSQL's tools, busybox or lzop: the release's own must be the ones found.
    stackPath = makeStackPath(workDir);
    for (const name of readdirSync(stackPath)) {
      if (/^(psql|pg_.*|busybox|httpd|lzop)$/.test(name)) unlinkSync(join(stackPath, name));
    }
  }, 120_000);

  afterAll(async () => {
    await releases?.close();
    await mirror?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** Builds an app whose BINARY_URL is the named release, and moves the slug, as Heroku does. */
  async function build(archive: string, app: Record<string, string>, configVars: Record<string, string> = {}): Promise<BuildResult> {
    const appDir = join(workDir, `app-${archive}`);
    mkdirSync(appDir, { recursive: true });
    for (const [name, content] of Object.entries(app)) writeFileSync(join(appDir, name), content);
    const result = await buildApp({
      buildpackDir: REPO,
      appDir,
      workDir,
      configVars: { BINARY_URL: `${releases.url}/${archive}`, NODEJS_ORG_MIRROR: mirror.url, ...configVars },
      buildEnv: { PATH: stackPath, HOME: join(workDir, "home"), STACK: "heroku-24", ...offlineNpm() },
      cacheDir: join(workDir, "cache"),
    });
    expect(result.compile?.status, `${result.compile?.stdout}\n${result.compile?.stderr}`).toBe(0);
    return result;
  }

  const runtime = { DATABASE_URL: "postgres://app:s3cret@db.internal:5432/metrics" };

  it("Prometheus: the server with its files beside it, promtool as a release-phase command, same PID, SIGTERM", async () => {
    const version = debianVersion("prometheus").split("+")[0] ?? "";
    const built = await build(`prometheus-${version}.linux-amd64.tar.gz`, {
      "binary.env": "",
      Procfile: [
        "web: execpack --config.file=$BINARY_HOME/prometheus.yml --web.listen-address=127.0.0.1:$PORT --storage.tsdb.path=$HOME/data --web.console.templates=$BINARY_HOME/consoles",
        "release: promtool check config $BINARY_HOME/prometheus.yml",
        "",
      ].join("\n"),
    });
    expect(built.compile!.stdout).toContain(`Installed 'prometheus-${version}.linux-amd64/prometheus' from the tar.gz archive`);
    expect(built.compile!.stdout).toMatch(/commands: prometheus, promtool/);
    expect(built.compile!.stdout).toMatch(/Slug: [\d.]+ MiB in \d+ files/);
    const slug = built.slugDir!;

    const release = startDyno({ slugDir: slug, command: "promtool check config $BINARY_HOME/prometheus.yml", configVars: runtime, path: stackPath });
    const released = watchDyno(release);
    expect((await released.exited)[0], released.output().stderr).toBe(0);
    expect(`${released.output().stdout}${released.output().stderr}`).toContain("SUCCESS");

    const port = await freePort();
    const command = "execpack --config.file=$BINARY_HOME/prometheus.yml --web.listen-address=127.0.0.1:$PORT --storage.tsdb.path=$HOME/data --web.console.templates=$BINARY_HOME/consoles";
    const dyno = startDyno({ slugDir: slug, command, configVars: runtime, path: stackPath, port, execCommand: true });
    const { exited, output } = watchDyno(dyno);
    const ready = await waitForHttp(`http://127.0.0.1:${port}/-/ready`, exited);
    expect(ready.status, output().stderr).toBe(200);
    const buildInfo = (await (await fetch(`http://127.0.0.1:${port}/api/v1/status/buildinfo`)).json()) as { data: { version: string } };
    expect(buildInfo.data.version).toMatch(new RegExp(`^${version.replaceAll(".", "\\.")}`));
    expect(readlinkSync(`/proc/${dyno.pid}/exe`)).toBe(join(slug, ".execpack/binary/prometheus"));
    const env = environOf(dyno.pid!);
    expect(env).toMatchObject({ BINARY_HOME: join(slug, ".execpack/binary"), DATABASE_HOST: "db.internal", DATABASE_PASSWORD: "s3cret" });
    expect(env.PATH!.split(":").slice(-2)).toEqual([join(slug, ".execpack/binary"), join(slug, ".execpack/commands")]);
    expect(argvOf(dyno.pid!)[0]).toBe("prometheus");
    dyno.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
  }, 120_000);

  it("busybox: a multi-call binary reached through an in-release symlink, as a companion command by its own name", async () => {
    const built = await build(`busybox-${debianVersion("busybox").split("-")[0]}.tar.gz`, { "binary.env": "GREETING=${DATABASE_HOST}\n" });
    const slug = built.slugDir!;
    expect(built.compile!.stdout).toMatch(/commands: busybox, httpd, sh, wget/);
    const port = await freePort();
    const dyno = startDyno({ slugDir: slug, command: "httpd -f -p 127.0.0.1:$PORT -h $BINARY_HOME/www", configVars: runtime, path: stackPath, port, execCommand: true });
    const { exited, output } = watchDyno(dyno);
    const answer = await waitForHttp(`http://127.0.0.1:${port}/index.html`, exited);
    expect(await answer.text(), output().stderr).toBe("served by busybox from the release\n");
    expect(readlinkSync(`/proc/${dyno.pid}/exe`)).toBe(join(slug, ".execpack/binary/bin/busybox"));
    expect(argvOf(dyno.pid!)[0]).toBe("httpd"); // what a shell gives: the applet's name, found on PATH
    expect(environOf(dyno.pid!)).toMatchObject({ GREETING: "db.internal", BINARY_HOME: join(slug, ".execpack/binary") });
    dyno.kill("SIGTERM");
    const [code, signal] = await exited;
    expect(code === 143 || signal === "SIGTERM" || code === 0, `${code} ${signal}`).toBe(true);
  }, 120_000);

  it("PostgreSQL's client: psql runs with its libraries, and pg_dumpall finds itself and pg_dump through argv[0] and PATH", async () => {
    const version = debianVersion("postgresql-client-15").split("-")[0] ?? "";
    const built = await build(`postgresql-${version}.linux-amd64.tar.gz`, { "binary.env": "" }, { BINARY_NAME: "psql" });
    const slug = built.slugDir!;
    const port = await freePort(); // nothing listens there: the clients' own connection errors are the result

    const run = async (command: string) => {
      const dyno = startDyno({ slugDir: slug, command, configVars: runtime, path: stackPath, execCommand: true });
      const watched = watchDyno(dyno);
      const [code] = await watched.exited;
      return { code, ...watched.output() };
    };
    const psqlVersion = await run("execpack --version");
    expect(psqlVersion).toMatchObject({ code: 0, stdout: expect.stringContaining(`psql (PostgreSQL) ${version}`) });
    const psql = await run(`execpack -h 127.0.0.1 -p ${port} -U app -c 'select 1'`);
    expect(psql.code).toBe(2);
    expect(psql.stderr).toMatch(/connection to server at "127\.0\.0\.1", port \d+ failed/);
    const dumpall = await run(`pg_dumpall -h 127.0.0.1 -p ${port}`);
    expect(dumpall.stderr).not.toContain("could not find");
    expect(dumpall.stderr).not.toContain("was not found in the same directory");
    expect(dumpall.stderr).toMatch(/pg_dumpall: error: connection to server at "127\.0\.0\.1", port \d+ failed/);
    expect(dumpall.code).toBe(1);
  }, 120_000);

  it("lzop: the build names a library the stack lacks; vendored in the release's lib/, the loader finds it at boot", async () => {
    const bare = await build("lzop-1.04.linux-amd64.tar.gz", { "binary.env": "" });
    expect(bare.compile!.stderr).toContain("[install.missing-libraries]");
    expect(bare.compile!.stderr).toContain("liblzo2.so.2, needed by bin/lzop");
    expect(bare.compile!.stderr).toContain("heroku-buildpack-apt");
    expect(bare.compile!.stderr).toMatch(/guessed from the libraries': liblzo2-2\)/);
    // Pinned, a rebuild that changes nothing reuses the install without the install step, and warns again.
    const pinned = { BINARY_SHA256: createHash("sha256").update(readFileSync(join(workDir, "site/lzop-1.04.linux-amd64.tar.gz"))).digest("hex") };
    await build("lzop-1.04.linux-amd64.tar.gz", { "binary.env": "" }, pinned);
    const rebuilt = await build("lzop-1.04.linux-amd64.tar.gz", { "binary.env": "" }, pinned);
    expect(rebuilt.compile!.stdout).toContain("Reusing the release the last build installed");
    expect(rebuilt.compile!.stderr).toContain("liblzo2.so.2, needed by bin/lzop");

    const vendored = await build("lzop-vendored-1.04.linux-amd64.tar.gz", { "binary.env": "" });
    expect(vendored.compile!.stderr).not.toContain("install.missing-libraries");
    const dyno = startDyno({ slugDir: vendored.slugDir!, command: "printf 'squeezed and back\\n' | lzop -c | execpack -dc; echo \"LD_LIBRARY_PATH=[${LD_LIBRARY_PATH:-}]\"", configVars: runtime, path: stackPath });
    const { exited, output } = watchDyno(dyno);
    expect((await exited)[0], output().stderr).toBe(0);
    // The program got the release's lib/; the dyno's shell did not.
    expect(output().stdout).toBe("squeezed and back\nLD_LIBRARY_PATH=[]\n");
  }, 120_000);
});
