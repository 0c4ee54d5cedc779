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
import { createWriteStream, existsSync, mkdirSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { tryApp } from "../src/ctl/try.js";
import { serveDirectory } from "../test/helpers/static-server.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const PORT = Number(process.env.DEMO_PORT ?? 5006);

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
  const { renameSync } = await import("node:fs");
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
  process.exitCode = answer.pid === dynoPid && code === 0 ? 0 : 1;
} finally {
  if (run.dyno.exitCode === null) run.dyno.kill("SIGKILL");
  run.cleanup();
}
