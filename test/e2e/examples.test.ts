/**
 * The examples/ apps as Heroku runs them: each one built by the real bin/* with the config vars its
 * app.json and add-ons give (generated secrets generated; BINARY_URL, a release on GitHub by name, resolved
 * against a loopback stand-in of GitHub's API), from a fixture release whose assets are named like the real
 * ones, the chosen one of the same format and layout as the real one with the probe in place of the binary;
 * then every Procfile process started like a dyno, and the probe's report checked for the arguments and the
 * variables the real server reads. The release phase gets the same environment and exec guarantees as web,
 * and its exit status decides the release.
 */
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, makeStackPath, nodeOnPath, processCommand, startDyno } from "../../src/ctl/local-heroku.js";
import type { BuildResult } from "../../src/ctl/local-heroku.js";
import { probeBinary, readProbeReport } from "../helpers/probe.js";
import type { ProbeReport } from "../helpers/probe.js";
import { file, tarGz, tarXz, zip } from "../helpers/release-archives.js";
import type { Entry } from "../helpers/release-archives.js";
import { sha256 as digest, startGithubStandIn } from "../helpers/github-stand-in.js";
import type { GithubStandIn } from "../helpers/github-stand-in.js";
import { parseReleaseName } from "../../src/fetch/release-name.js";
import { offlineNpm } from "./helpers/build-env.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const PORT = 5123;

// Add-on URLs shaped as the add-ons write them; the passwords hold characters that must arrive decoded.
const JAWSDB_URL = "mysql://fleetuser:j%40ws%2Fpass@k2fqe1if4c7uowsh.cbetxkdyhwsb.us-east-1.rds.amazonaws.com:3306/a1b2c3d4e5f6";
const JAWSDB_HOST = "k2fqe1if4c7uowsh.cbetxkdyhwsb.us-east-1.rds.amazonaws.com";
const REDIS_URL = "rediss://:p4e5b2c0ffee@ec2-3-224-100-1.compute-1.amazonaws.com:25690";
const DATABASE_URL = "postgres://u7a9bc:p3c4%20d5e6@ec2-44-195-1-2.compute-1.amazonaws.com:5432/d8e9f0a1b2c3";

type ConfigVars = Record<string, string>;

interface ProcessCase {
  type: string;
  argv: string[];
  env: (vars: ConfigVars) => Record<string, string>;
}

interface Example {
  name: string;
  /** What the installer reports reading, from the magic bytes. */
  format: "tar.gz" | "tar.xz" | "zip";
  /** The real release's entries, with the probe under the real binary's path. */
  entries: (probe: Buffer) => Entry[];
  /** The entry execpack must choose. */
  binaryEntry: string;
  /** The asset execpack must choose for an amd64 dyno, beside the release's other assets. */
  asset: string;
  otherAssets: string[];
  /** Whether the project publishes a checksums.txt with its releases. */
  checksums: boolean;
  /** Config vars the example's add-ons set. */
  addons: ConfigVars;
  processes: ProcessCase[];
}

const EXAMPLES: Example[] = [
  {
    name: "fleet",
    format: "tar.gz",
    // goreleaser's archive: wrapped in a directory, with the repository's LICENSE, README and CHANGELOG.
    entries: (probe) => [
      { path: "fleet_v4.60.0_linux/", directory: true },
      file("fleet_v4.60.0_linux/fleet", probe),
      file("fleet_v4.60.0_linux/LICENSE", "MIT License\n", 0o644),
      file("fleet_v4.60.0_linux/README.md", "# Fleet\n", 0o644),
      file("fleet_v4.60.0_linux/CHANGELOG.md", "## Fleet 4.60.0\n", 0o644),
    ],
    binaryEntry: "fleet_v4.60.0_linux/fleet",
    asset: "fleet_v4.60.0_linux.tar.gz",
    otherAssets: ["fleet_v4.60.0_linux_arm64.tar.gz", "fleetctl_v4.60.0_linux.tar.gz", "fleetctl_v4.60.0_macos.tar.gz", "fleetctl_v4.60.0_windows.zip", "fleetctl_v4.60.0_amd64.deb", "fleetctl_v4.60.0_amd64.rpm"],
    checksums: true,
    addons: { JAWSDB_URL, REDIS_URL },
    processes: [
      { type: "web", argv: ["fleet", "serve"], env: fleetEnv },
      { type: "release", argv: ["fleet", "prepare", "db", "--no-prompt"], env: fleetEnv },
    ],
  },
  {
    name: "postgrest",
    format: "tar.xz",
    entries: (probe) => [file("postgrest", probe)],
    binaryEntry: "postgrest",
    asset: "postgrest-v12.2.3-linux-static-x64.tar.xz",
    otherAssets: ["postgrest-v12.2.3-macos-aarch64.tar.xz", "postgrest-v12.2.3-windows-x64.zip", "postgrest-v12.2.3-ubuntu-aarch64.tar.xz"],
    checksums: false,
    addons: { DATABASE_URL },
    processes: [
      {
        type: "web",
        argv: ["postgrest"],
        env: (vars) => ({
          PGRST_DB_URI: DATABASE_URL,
          PGRST_SERVER_PORT: String(PORT),
          PGRST_DB_ANON_ROLE: "web_anon",
          PGRST_JWT_SECRET: vars["JWT_SECRET"]!,
        }),
      },
    ],
  },
  {
    name: "gotify",
    format: "zip",
    // `zip -j gotify-linux-amd64.zip gotify-linux-amd64 ./LICENSE; zip -ur ... licenses/` in gotify's Makefile.
    entries: (probe) => [
      file("gotify-linux-amd64", probe),
      file("LICENSE", "MIT License\n", 0o644),
      file("licenses/github.com_gin-gonic_gin", "The MIT License (MIT)\n", 0o644),
      file("licenses/gorm.io_gorm", "The MIT License (MIT)\n", 0o644),
    ],
    binaryEntry: "gotify-linux-amd64",
    asset: "gotify-linux-amd64.zip",
    otherAssets: ["gotify-linux-386.zip", "gotify-linux-arm-7.zip", "gotify-linux-arm64.zip", "gotify-windows-386.exe.zip", "gotify-windows-amd64.exe.zip"],
    checksums: false,
    addons: { DATABASE_URL },
    processes: [
      {
        type: "web",
        argv: ["gotify-linux-amd64"],
        env: (vars) => ({
          GOTIFY_SERVER_PORT: String(PORT),
          GOTIFY_DATABASE_DIALECT: "postgres",
          GOTIFY_DATABASE_CONNECTION:
            "host=ec2-44-195-1-2.compute-1.amazonaws.com port=5432 user=u7a9bc password='p3c4 d5e6' dbname=d8e9f0a1b2c3 sslmode=require",
          GOTIFY_DEFAULTUSER_NAME: "admin",
          GOTIFY_DEFAULTUSER_PASS: vars["ADMIN_PASSWORD"]!,
        }),
      },
    ],
  },
];

function fleetEnv(vars: ConfigVars): Record<string, string> {
  return {
    FLEET_MYSQL_ADDRESS: `${JAWSDB_HOST}:3306`,
    FLEET_MYSQL_USERNAME: "fleetuser",
    FLEET_MYSQL_PASSWORD: "j@ws/pass",
    FLEET_MYSQL_DATABASE: "a1b2c3d4e5f6",
    FLEET_REDIS_ADDRESS: "ec2-3-224-100-1.compute-1.amazonaws.com:25690",
    FLEET_REDIS_PASSWORD: "p4e5b2c0ffee",
    FLEET_REDIS_USE_TLS: "true",
    FLEET_SERVER_ADDRESS: `0.0.0.0:${PORT}`,
    FLEET_SERVER_TLS: "false",
    FLEET_SERVER_PRIVATE_KEY: vars["FLEET_SERVER_PRIVATE_KEY"]!,
  };
}

interface BuiltExample {
  build: BuildResult;
  /** The app's config vars: from app.json and the add-ons, BINARY_URL pointing at loopback. */
  configVars: ConfigVars;
}

interface AppJsonEnv {
  [name: string]: string | { value?: string; generator?: string };
}

function appJsonEnv(appDir: string): AppJsonEnv {
  return (JSON.parse(readFileSync(join(appDir, "app.json"), "utf8")) as { env?: AppJsonEnv }).env ?? {};
}

function generatedSecrets(example: Example): string[] {
  const env = appJsonEnv(join(REPO, "examples", example.name));
  return Object.keys(env).filter((name) => {
    const entry = env[name];
    return typeof entry === "object" && entry.generator === "secret";
  });
}

/** The config vars Heroku creates from app.json: each entry's value, and 64 hex digits per generated secret. */
function configVarsFromAppJson(appDir: string): ConfigVars {
  const env = appJsonEnv(appDir);
  const vars: ConfigVars = {};
  for (const [name, entry] of Object.entries(env)) {
    if (typeof entry === "string") vars[name] = entry;
    else if (entry.generator === "secret") vars[name] = randomBytes(32).toString("hex");
    else if (entry.value !== undefined) vars[name] = entry.value;
  }
  return vars;
}

async function releaseArchive(example: Example, probe: Buffer): Promise<Buffer> {
  const entries = example.entries(probe);
  switch (example.format) {
    case "tar.gz":
      return tarGz(entries);
    case "tar.xz":
      return tarXz(entries);
    case "zip":
      return zip(entries);
  }
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("examples, end to end", () => {
  let workDir: string;
  let github: GithubStandIn;
  let buildEnv: NodeJS.ProcessEnv;
  let dynoPath: string;
  let probe: Buffer;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "execpack-examples-"));
    probe = readFileSync(probeBinary());
    github = await startGithubStandIn();
    dynoPath = makeStackPath(workDir);
    // heroku/nodejs ran first: its Node.js is copied into the slug instead of downloaded, which keeps the
    // three builds quick. npm installs the bootstrapper's runtime dependencies from its cache only.
    buildEnv = {
      PATH: makeStackPath(workDir, [nodeOnPath(workDir)]),
      HOME: join(workDir, "home"),
      STACK: "heroku-24",
      ...offlineNpm(),
    };
  });

  afterAll(async () => {
    await github?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  function boot(slugDir: string, command: string, configVars: ConfigVars) {
    const report = join(workDir, `report-${randomBytes(4).toString("hex")}`);
    const dyno = startDyno({
      slugDir,
      command,
      configVars: { ...configVars, PROBE_REPORT: report },
      path: dynoPath,
      port: PORT,
      execCommand: true,
    });
    let stderr = "";
    dyno.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = once(dyno, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    return {
      pid: dyno.pid,
      async finish(): Promise<{ code: number | null; stderr: string; report: ProbeReport | undefined }> {
        const [code] = await exited;
        return { code, stderr, report: existsSync(report) ? readProbeReport(report) : undefined };
      },
    };
  }

  /** Each example is built once, whichever describe block asks first. */
  const builds = new Map<string, Promise<BuiltExample>>();
  function built(example: Example): Promise<BuiltExample> {
    let pending = builds.get(example.name);
    if (!pending) builds.set(example.name, (pending = buildExample(example)));
    return pending;
  }

  async function buildExample(example: Example): Promise<BuiltExample> {
    const appDir = join(REPO, "examples", example.name);
    const configVars = configVarsFromAppJson(appDir);
    // BINARY_URL stays app.json's own: the release's name, looked up in the stand-in of GitHub's API.
    const name = parseReleaseName(configVars["BINARY_URL"]!, undefined)!;
    const archive = await releaseArchive(example, probe);
    const assets = [{ name: example.asset, body: archive }, ...example.otherAssets.map((other) => ({ name: other, body: Buffer.from(`${other}\n`) }))];
    if (example.checksums) assets.push({ name: "checksums.txt", body: Buffer.from(assets.map((asset) => `${digest(asset.body)}  ${asset.name}\n`).join("")) });
    github.repos.set(`${name.owner}/${name.repo}`, { releases: [{ tag: name.tag!, assets }] });
    Object.assign(configVars, example.addons, { BINARY_GITHUB_API_URL: github.api });
    const build = await buildApp({ buildpackDir: REPO, appDir, workDir, configVars, buildEnv, cacheDir: join(workDir, "cache") });
    return { build, configVars };
  }

  describe.each(EXAMPLES.map((example) => [example.name, example] as const))("examples/%s", (_name, example) => {
    let configVars: ConfigVars;
    let build: BuildResult;

    beforeAll(async () => {
      ({ build, configVars } = await built(example));
    });

    it(`builds from a ${example.format} release laid out like the real one`, () => {
      expect(build.detect.status).toBe(0);
      const compile = build.compile!;
      expect(compile.status, compile.stdout + compile.stderr).toBe(0);
      expect(compile.stdout).toContain(`Installed '${example.binaryEntry}' from the ${example.format} archive`);
      const verified = example.checksums ? "sha256 verified against checksums.txt" : "not verified: the release publishes no checksum";
      expect(compile.stdout).toMatch(new RegExp(`\\S+: ${example.asset.replace(/\./g, "\\.")} \\([\\d.]+ KiB\\), ${verified}`));
      expect(compile.stdout).toContain(sha256(probe));
      expect(build.slugDir).toBeDefined();
      for (const name of generatedSecrets(example)) expect(compile.stdout + compile.stderr).not.toContain(configVars[name]);
    });

    const processCases = example.processes.map((processCase) => [processCase.type, processCase] as const);
    it.each(processCases)("boots `%s` with the arguments and variables the server reads", async (type, { argv, env }) => {
      const command = processCommand(build.slugDir!, build.release!.stdout, type);
      expect(command).toMatch(/^execpack( |$)/);
      const dyno = boot(build.slugDir!, command!, configVars);
      const { code, stderr, report } = await dyno.finish();
      expect(code, stderr).toBe(0);
      expect(report?.pid).toBe(dyno.pid);
      expect(report?.argv).toEqual(argv);
      expect(report?.env).toMatchObject({ ...env(configVars), PORT: String(PORT) });
    });
  });

  describe("the release phase of examples/fleet", () => {
    const fleet = EXAMPLES.find((example) => example.name === "fleet")!;
    let slugDir: string;
    let configVars: ConfigVars;

    beforeAll(async () => {
      const { build, configVars: vars } = await built(fleet);
      if (!build.slugDir) throw new Error(`examples/fleet did not build:\n${build.compile?.stderr ?? ""}`);
      slugDir = build.slugDir;
      configVars = vars;
    });

    function procfileCommand(type: string): string {
      const command = processCommand(slugDir, "", type);
      if (!command) throw new Error(`examples/fleet/Procfile has no ${type} process`);
      return command;
    }

    it("gives `release` exactly the environment `web` gets", async () => {
      const web = await boot(slugDir, procfileCommand("web"), configVars).finish();
      const release = await boot(slugDir, procfileCommand("release"), configVars).finish();
      const { PROBE_REPORT: _webReport, ...webEnv } = web.report!.env;
      const { PROBE_REPORT: _releaseReport, ...releaseEnv } = release.report!.env;
      expect(releaseEnv).toEqual(webEnv);
    });

    it("passes a failing migration's exit status on, so Heroku does not release", async () => {
      // The probe stands in for `fleet prepare db` failing: `--exit 3` makes it exit with status 3.
      const dyno = boot(slugDir, `${procfileCommand("release")} --exit 3`, configVars);
      const { code, report } = await dyno.finish();
      expect(code).toBe(3);
      expect(report?.pid).toBe(dyno.pid);
      expect(report?.argv).toEqual(["fleet", "prepare", "db", "--no-prompt", "--exit", "3"]);
      expect(report?.env).toMatchObject(fleetEnv(configVars));
    });
  });
});
