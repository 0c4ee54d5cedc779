/**
 * What `execpack` adds before the binary starts. Builds a slug the way Heroku would (bin/compile with a
 * release zip holding /usr/bin/true, served from loopback), then times, from the same slug's Node.js:
 *   node -e 0                       bare Node.js start-up: the baseline
 *   execpack (binary.env + URLs)   the launcher, the bootstrapper, the environment, the exec into `true`
 *   true                           the binary alone
 * and prints medians and ratios against bare Node: the raw one, and the one the target is about, what
 * execpack adds before the binary starts ((execpack → true) − (true alone), over node -e 0).
 * Run: npm run bench:boot [-- RUNS]
 */
import { spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { buildApp, makeStackPath, nodeOnPath } from "../src/ctl/local-heroku.js";
import { serveDirectory } from "../test/helpers/static-server.js";
import { offlineNpm } from "../test/e2e/helpers/build-env.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const RUNS = Number(process.argv[2] ?? 40);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function time(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { env, cwd, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}\n${result.stderr}`);
  return elapsed;
}

const workDir = mkdtempSync(join(tmpdir(), "execpack-bench-boot-"));
try {
  const appDir = join(workDir, "app-src");
  mkdirSync(appDir);
  writeFileSync(join(appDir, "Procfile"), "web: execpack\n");
  writeFileSync(join(appDir, "binary.env"), "APP_DB=${DATABASE_HOST}:${DATABASE_PORT}\nAPP_CACHE=${REDIS_ADDRESS}\nAPP_LISTEN=0.0.0.0:${PORT}\n");
  const zip = new ZipFile();
  zip.addFile("/usr/bin/true", "app_linux_amd64/app", { mode: 0o100755 });
  zip.end();
  await once(zip.outputStream.pipe(createWriteStream(join(workDir, "release.zip"))), "close");
  const server = await serveDirectory(workDir);
  const build = await buildApp({
    buildpackDir: REPO,
    appDir,
    workDir,
    configVars: { BINARY_URL: `${server.url}/release.zip` },
    buildEnv: { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: workDir, ...offlineNpm(), },
  });
  await server.close();
  if (!build.slugDir) throw new Error(`build failed:\n${build.compile?.stdout}\n${build.compile?.stderr}`);

  const slug = build.slugDir;
  const env = {
    HOME: slug,
    PATH: `${slug}/.execpack/bin:/usr/bin:/bin`,
    PORT: "5000",
    DATABASE_URL: "postgres://user:secret@db.internal:5432/app",
    REDIS_URL: "redis://h:secret@cache.internal:6379",
  };
  const node = join(slug, ".execpack/node/bin/node");
  const execpack = join(slug, ".execpack/bin/execpack");
  const cases: Array<[string, () => number]> = [
    ["node -e 0 (baseline)", () => time(node, ["-e", "0"], env, slug)],
    ["execpack → true", () => time(execpack, [], env, slug)],
    ["true alone", () => time("/usr/bin/true", [], env, slug)],
  ];
  for (const [, run] of cases) run(); // warm the page cache
  const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let i = 0; i < RUNS; i += 1) for (const [name, run] of cases) samples.get(name)!.push(run());

  const baseline = median(samples.get("node -e 0 (baseline)")!);
  console.log(`boot overhead, ${RUNS} runs each, Node ${spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()}\n`);
  console.log(`${"case".padEnd(28)}${"median ms".padStart(11)}${"vs node -e 0".padStart(15)}`);
  for (const [name] of cases) {
    const value = median(samples.get(name)!);
    console.log(`${name.padEnd(28)}${value.toFixed(1).padStart(11)}${`${(value / baseline).toFixed(2)}x`.padStart(15)}`);
  }
  const added = median(samples.get("execpack → true")!) - median(samples.get("true alone")!);
  console.log(`\nexecpack before the binary starts: ${added.toFixed(1)} ms = ${(added / baseline).toFixed(2)}x node -e 0 (target ≤ 1.30x)`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
