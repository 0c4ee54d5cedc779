/**
 * `npm run demo`: the quick start. Builds examples/hello the way Heroku would and boots it, then shows that
 * the binary runs in place of `execpack`: the dyno's PID is the server's PID, its executable is the
 * installed binary, and its variables come from DATABASE_URL through binary.env.
 *
 * The release is served from loopback like a GitHub release: a zip holding a Linux build (this machine's
 * Node.js executable renamed `hello`: any Linux ELF works, and a fresh machine may have no C compiler),
 * a macOS and a Windows build, and a README.
 */
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, readFileSync, readlinkSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { ExecpackError } from "../src/common/errors.js";
import { runMain } from "../src/common/main.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const PORT = Number(process.env.DEMO_PORT ?? 5006);

/**
 * The demo copies this Node.js into the slug, as when heroku/nodejs runs first, and boots on it: it must be
 * one bin/compile takes (package.json's engines.node, with process.execve to exec in place). npm scripts run
 * on the `node` dev dependency, whose install script puts it on their PATH; with scripts ignored (`npm ci
 * --ignore-scripts`, or ignore-scripts in .npmrc) they run on whatever Node.js the machine has, perhaps one
 * too old. bin/compile would then download Node.js, and without a network die in the middle of the build.
 */
function assertNodeCanExec(): void {
  const engines = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
  const floor = engines.replace(/^>=\s*/, "");
  if (typeof process.execve === "function" && !isOlder(process.versions.node, floor)) return;
  throw new ExecpackError("demo.node-cannot-exec", `This Node.js (${process.version}) cannot exec in place as the demo's slug must`, {
    seen: [`node: ${process.execPath}`, `package.json engines.node: "${engines}"`],
    hint:
      "npm scripts run on the Node.js of the `node` dev dependency, which its install script sets up; it was skipped " +
      "(npm ci --ignore-scripts, or ignore-scripts in .npmrc). Run `npm rebuild node --ignore-scripts=false`, " +
      `or put a Node.js ${floor} or later first on PATH.`,
  });
}

function isOlder(version: string, than: string): boolean {
  const [a, b] = [version, than].map((text) => text.split(".").map(Number));
  for (let index = 0; index < 3; index += 1) {
    const difference = (a![index] ?? 0) - (b![index] ?? 0);
    if (difference !== 0) return difference < 0;
  }
  return false;
}

async function releaseZip(): Promise<string> {
  const dir = join(tmpdir(), "execpack-demo-release");
  const file = join(dir, "hello_1.0.0.zip");
  if (existsSync(file)) return dir;
  mkdirSync(dir, { recursive: true });
  const zip = new ZipFile();
  zip.addFile(process.execPath, "hello_1.0.0_linux_amd64/hello", { mode: 0o100755, compress: false });
  zip.addBuffer(Buffer.from("# hello 1.0.0\n"), "hello_1.0.0_linux_amd64/README.md");
  zip.addBuffer(Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1, ...new Array(56).fill(0)]), "hello_1.0.0_darwin_arm64/hello");
  zip.addBuffer(Buffer.concat([Buffer.from("MZ"), Buffer.alloc(126)]), "hello_1.0.0_windows_amd64/hello.exe");
  zip.end();
  await once(zip.outputStream.pipe(createWriteStream(`${file}.partial`)), "close");
  renameSync(`${file}.partial`, file);
  return dir;
}

async function waitForServer(url: string, deadline: number): Promise<unknown> {
  while (Date.now() < deadline) {
    try {
      return await (await fetch(url)).json();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`the server did not answer on ${url} in time`);
}

async function demo(): Promise<number> {
  assertNodeCanExec();
  // Loaded after the check: nothing the build needs is imported by a Node.js that cannot run the demo.
  const { tryApp } = await import("../src/ctl/try.js");
  const { serveDirectory } = await import("../test/helpers/static-server.js");
  const releases = await serveDirectory(await releaseZip());
  const run = await tryApp({
    buildpackDir: REPO,
    appDir: join(REPO, "examples/hello"),
    extraConfigVars: {
      BINARY_URL: `${releases.url}/hello_1.0.0.zip`,
      DATABASE_URL: "postgres://hello:s3cr%40t%2Fpw@db.internal:5432/hello_db",
    },
    port: PORT,
    execCommand: true,
  });
  await releases.close(); // The slug is self-contained: nothing is fetched at boot.

  try {
    const answer = (await waitForServer(`http://127.0.0.1:${PORT}/`, Date.now() + 30_000)) as { pid: number };
    console.log(`\n-----> GET http://127.0.0.1:${PORT}/\n${JSON.stringify(answer, null, 2)}\n`);
    const dynoPid = run.dyno.pid!;
    console.log(`-----> The dyno's process is PID ${dynoPid}; the server answering is PID ${answer.pid}: ${answer.pid === dynoPid ? "the same process, exec'd in place" : "NOT the same process"}`);
    console.log(`       /proc/${dynoPid}/exe -> ${readlinkSync(`/proc/${dynoPid}/exe`)}`);
    run.dyno.kill("SIGTERM");
    const [code] = await once(run.dyno, "exit");
    console.log(`-----> SIGTERM sent to PID ${dynoPid}; the server exited with status ${String(code)}`);
    return answer.pid === dynoPid && code === 0 ? 0 : 1;
  } finally {
    if (run.dyno.exitCode === null) run.dyno.kill("SIGKILL");
    run.cleanup();
  }
}

await runMain(demo);
