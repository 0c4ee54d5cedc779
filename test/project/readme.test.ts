/**
 * The README is part of the contract: every stable error code the code can print has a troubleshooting row,
 * every config var the code reads is in the reference, and the quick start's commands exist.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(REPO, "README.md"), "utf8");

function files(dir: string): string[] {
  return readdirSync(join(REPO, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(REPO, path)).isDirectory() ? files(path) : [path];
  });
}

const sources = [...files("src"), ...files("lib"), ...files("bin")].map((file) => readFileSync(join(REPO, file), "utf8"));
const codes = [
  ...new Set(sources.flatMap((text) => [...text.matchAll(/(?:ExecpackError\(\s*|output::error\s+)"([a-z]+\.[a-z0-9-]+)"/g)].map((match) => match[1]!))),
].sort();

describe("README", () => {
  it("finds the error codes in the source (guards the scan below)", () => {
    expect(codes).toEqual(expect.arrayContaining(["config.missing-binary-url", "download.not-found", "env.invalid-url"]));
    expect(codes.length).toBeGreaterThan(30);
  });

  it.each(codes)("documents the error code %s", (code) => {
    expect(readme).toContain(`\`${code}\``);
  });

  const configVars = [
    ...new Set(sources.flatMap((text) => [...text.matchAll(/\b(?:vars|configVars)(?:\.|, ")(BINARY_[A-Z0-9_]+)/g)].map((match) => match[1]!))),
    "NODEJS_ORG_MIRROR",
  ].sort();
  it("finds the config vars the code reads (guards the scan)", () => {
    expect(configVars).toEqual(expect.arrayContaining(["BINARY_URL", "BINARY_SHA256", "BINARY_MAX_SIZE", "BINARY_FETCH_TIMEOUT"]));
  });
  it.each(configVars)("documents the config var %s in the reference table", (name) => {
    expect(readme).toMatch(new RegExp(`^\\| (\`[A-Z_]+\`, )*\`${name}\`(, \`[A-Z_]+\`)* \\|`, "m"));
  });

  it("gives a quick start whose commands are this package's scripts", () => {
    const scripts = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).scripts as Record<string, string>;
    expect(readme).toContain("npm ci && npm run demo");
    expect(readme).toContain("npm test");
    expect(scripts.demo).toBeDefined();
    expect(scripts.test).toContain("vitest run");
    expect(readFileSync(join(REPO, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
  });
});
