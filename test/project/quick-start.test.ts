/**
 * The quick start as a newcomer meets it: the Node.js floor it states is package.json's `engines.node`, and
 * so is every other statement of the floor ("Node.js X or later", "Node X+") in the docs, the code and the
 * scripts; `npm run demo` on a Node.js that cannot exec in place (what npm scripts get when the `node` dev
 * dependency's install script was skipped) says so with a code and a hint, not a stack.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(REPO, "README.md"), "utf8");
const engines = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;

/** `>=22.15.0` is stated as 22.15; a patch level that matters (`>=22.15.1`) is stated whole. */
function statedFloor(range: string): string {
  const match = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range.trim());
  if (!match) throw new Error(`engines.node "${range}" is not of the form >=X.Y.Z`);
  const [, major, minor, patch] = match;
  return patch === "0" ? `${major}.${minor}` : `${major}.${minor}.${patch}`;
}
const floor = statedFloor(engines);

function files(dir: string): string[] {
  return readdirSync(join(REPO, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(REPO, path)).isDirectory() ? files(path) : [path];
  });
}

const FLOOR_STATEMENT = /\bNode(?:\.js)? \(?(\d+(?:\.\d+)*)(?: or later|\+)/g;
const statements = ["README.md", ...["src", "lib", "launchers", "bin", "scripts"].flatMap(files)].flatMap((file) =>
  [...readFileSync(join(REPO, file), "utf8").matchAll(FLOOR_STATEMENT)].map((match) => ({ file, text: match[0], version: match[1] })),
);

describe("the Node.js floor", () => {
  it("is stated in the README's quick start as package.json's engines.node", () => {
    const quickStart = /^## Quick start\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? "";
    expect(quickStart).toContain("npm run demo");
    expect([...quickStart.matchAll(FLOOR_STATEMENT)].map((match) => match[1])).toEqual([floor]);
  });

  it("finds the statements of the floor (guards the scan below)", () => {
    expect(statements.map((statement) => statement.file)).toEqual(expect.arrayContaining(["README.md", "src/boot/exec.ts"]));
  });

  it("is the same wherever it is stated", () => {
    const stale = statements.filter((statement) => statement.version !== floor);
    expect(stale, `engines.node is "${engines}": every "Node.js X or later" / "Node X+" must say ${floor}`).toEqual([]);
  });
});

/** A Node.js that cannot exec in place: the system's (Node 20 here and in CI), else this one with execve removed. */
function nodeWithoutExecve(): { args: string[]; what: string } {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node", "/bin/node"]) {
    const probe = spawnSync(candidate, ["-p", "typeof process.execve + ' ' + process.version"], { encoding: "utf8" });
    const [kind, version] = (probe.stdout ?? "").trim().split(" ");
    if (probe.status === 0 && kind === "undefined") return { args: [candidate], what: `the system's Node.js ${version}` };
  }
  // Only when the machine has no older Node.js: the same demo, on a Node.js whose process.execve is gone.
  return { args: [process.execPath, "--import", "data:text/javascript,delete process.execve"], what: "this Node.js with process.execve deleted (no older Node.js here)" };
}

describe("npm run demo", () => {
  const node = nodeWithoutExecve();
  it(`on a Node.js that cannot exec (${node.what}) fails with a code and a hint, no stack`, () => {
    // tsx as a loader in this very process: its CLI would start a second Node.js without our --import.
    const run = spawnSync(node.args[0]!, [...node.args.slice(1), "--import", "tsx", join(REPO, "scripts/demo.ts")], {
      cwd: REPO,
      encoding: "utf8",
      env: { ...process.env, DEMO_PORT: "1" },
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("cannot exec in place as the demo's slug must [demo.node-cannot-exec]");
    expect(run.stderr).toContain(`engines.node: "${engines}"`);
    expect(run.stderr).toContain("npm rebuild node --ignore-scripts=false");
    expect(run.stderr).toContain(`Node.js ${engines.replace(/^>=\s*/, "")} or later`);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).not.toContain("Building");
  });
});
