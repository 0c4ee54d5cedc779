/**
 * What execpack adds to a dyno's start, from the dyno shell's start to the binary's first instruction. Builds a
 * slug the way Heroku would (bin/compile with a release zip holding /usr/bin/true, served from loopback), then
 * times, with 0, 5 and 50 add-on URLs among the config vars, from the same slug's Node.js:
 *   node -e 0                       bare Node.js start-up: the baseline
 *   dyno → true                     what Heroku runs for `web: execpack`: bash sourcing .profile.d (the profile
 *                                   step), then `exec execpack` (the launcher's fast path, or Node.js), into `true`
 *   true alone                      the binary alone, started the same way
 * and prints medians and the ratio the targets are about: (dyno → true) − (true alone), over node -e 0; then the same
 * ratio in CPU time (means), which a busy machine disturbs far less than wall time.
 * Every case runs in the same clean environment (the config vars, HOME, a PATH without Node.js), interleaved.
 * Run: npm run bench:boot [-- RUNS]; BENCH_BUILDPACK=<checkout> measures another checkout (the code before a change).
 */
import { spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZipFile } from "yazl";
import { buildApp, makeStackPath, nodeOnPath } from "../src/ctl/local-heroku.js";
import { serveDirectory } from "../test/helpers/static-server.js";
import { offlineNpm } from "../test/e2e/helpers/build-env.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BUILDPACK = process.env.BENCH_BUILDPACK ?? REPO;
const RUNS = Number(process.argv[2] ?? 40);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * CPU time (user + system) of this process's waited-for children so far, in ms, from /proc/self/stat (cutime,
 * cstime, in clock ticks of 10 ms): summed over every run of a case it is exact to 10 ms, and, unlike wall
 * time, barely moves when other work shares the cores.
 */
function childrenCpu(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) * 10; // fields 16 and 17 of proc(5), counted from 1 before "(comm)"
}

function time(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, cpu?: number[]): number {
  const cpuBefore = childrenCpu();
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { env, cwd, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  cpu?.push(childrenCpu() - cpuBefore);
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
    buildpackDir: BUILDPACK,
    appDir,
    workDir,
    configVars: { BINARY_URL: `${server.url}/release.zip` },
    buildEnv: { PATH: makeStackPath(workDir, [nodeOnPath(workDir)]), HOME: workDir, ...offlineNpm(), },
  });
  await server.close();
  if (!build.slugDir) throw new Error(`build failed:\n${build.compile?.stdout}\n${build.compile?.stderr}`);

  const slug = build.slugDir;
  const node = join(slug, ".execpack/node/bin/node");
  const dyno = 'for f in "${HOME}"/.profile.d/*.sh; do [ -r "${f}" ] && . "${f}"; done; exec execpack';
  const schemes = ["mysql://u:p%40ss@mysql.internal:3306/db", "redis://h:secret@cache.internal:6379", "amqp://u:p@mq.internal/vhost", "mongodb://u:p@m1.internal,m2.internal/db"];
  const envWith = (urls: number): NodeJS.ProcessEnv => {
    // TMPDIR: the profile step's record of every run (derived passwords in clear) goes away with workDir
    // instead of piling up in the machine's /tmp, as a dyno's /tmp goes away with the dyno.
    const env: NodeJS.ProcessEnv = { HOME: slug, PATH: makeStackPath(workDir), PORT: "5000", DYNO: "web.1", LANG: "en_US.UTF-8", TMPDIR: workDir };
    for (let i = 0; i < urls; i += 1) {
      const name = i === 0 ? "DATABASE_URL" : i === 1 ? "REDIS_URL" : `ADDON${i}_URL`;
      env[name] = i === 0 ? "postgres://user:secret@db.internal:5432/app" : schemes[i % schemes.length];
    }
    return env;
  };
  console.log(`boot overhead, ${RUNS} runs each, Node ${spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()}, ${BUILDPACK === REPO ? "this checkout" : BUILDPACK}\n`);
  // Wall time (medians) is what the targets are about; CPU time (means over the runs, from the kernel's
  // accounting of the children) says the same with far less noise on a shared machine.
  console.log(`${"add-on URLs".padEnd(13)}${"node -e 0".padStart(11)}${"dyno → true".padStart(13)}${"true alone".padStart(12)}${"added".padStart(9)}${"ratio".padStart(8)}${"target".padStart(9)}${"CPU: added / node".padStart(25)}${"ratio".padStart(8)}`);
  for (const [urls, target] of [[0, ""], [5, "≤ 1.15x"], [50, "≤ 1.25x"]] as const) {
    const env = envWith(urls);
    const cpu = new Map<string, number[]>([["node", []], ["dyno", []], ["true", []]]);
    const cases: Array<[string, () => number]> = [
      ["node", () => time(node, ["-e", "0"], env, slug, cpu.get("node"))],
      ["dyno", () => time("bash", ["-c", dyno], env, slug, cpu.get("dyno"))],
      ["true", () => time("/usr/bin/true", [], env, slug, cpu.get("true"))],
    ];
    for (const [, run] of cases) run(); // warm the page cache
    for (const values of cpu.values()) values.length = 0;
    const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    for (let i = 0; i < RUNS; i += 1) for (const [name, run] of cases) samples.get(name)!.push(run());
    const [baseline, started, alone] = ["node", "dyno", "true"].map((name) => median(samples.get(name)!)) as [number, number, number];
    const [cpuNode, cpuDyno, cpuTrue] = ["node", "dyno", "true"].map((name) => cpu.get(name)!.reduce((a, b) => a + b, 0) / RUNS) as [number, number, number];
    const added = started - alone;
    const ms = (value: number, width: number) => `${value.toFixed(1)} ms`.padStart(width);
    const cpuColumns = `${`${(cpuDyno - cpuTrue).toFixed(1)} / ${cpuNode.toFixed(1)} ms`.padStart(25)}${`${((cpuDyno - cpuTrue) / cpuNode).toFixed(2)}x`.padStart(8)}`;
    console.log(`${String(urls).padEnd(13)}${ms(baseline, 11)}${ms(started, 13)}${ms(alone, 12)}${ms(added, 9)}${`${(added / baseline).toFixed(2)}x`.padStart(8)}${target.padStart(9)}${cpuColumns}`);
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
