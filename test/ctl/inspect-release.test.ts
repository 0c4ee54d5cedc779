import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkApp, showEnvironment } from "../../src/ctl/inspect.js";
import type { InstallManifest } from "../../src/install/slug.js";

const app = mkdtempSync(join(tmpdir(), "execpack-inspect-"));
afterAll(() => rmSync(app, { recursive: true, force: true }));

const INSTALLED: InstallManifest = {
  name: "widget", entry: "widget_1.2.0_linux_amd64/widget", size: 1, sha256: "0".repeat(64), source: "github:acme/widget", format: "tar.gz", fetch: "build",
  release: { repository: "acme/widget", tag: "v1.2.0", asset: "widget_1.2.0_linux_amd64.tar.gz", verifiedBy: "checksums.txt" },
};

describe("execpackctl check and env with a release name", () => {
  it.each<[Record<string, string>, boolean, string]>([
    [{ BINARY_URL: "github:acme/widget@v1.2.0" }, true, "ok     BINARY_URL names the GitHub release acme/widget v1.2.0"],
    [{ BINARY_URL: "https://github.com/acme/widget/releases/latest", BINARY_ASSET: "*_linux_amd64.tar.gz" }, true, 'acme/widget latest, asset "*_linux_amd64.tar.gz"'],
    [{ BINARY_URL: "https://example.org/widget.tar.gz", BINARY_ASSET: "*.tar.gz" }, true, "ok     BINARY_ASSET is ignored"],
    [{ BINARY_URL: "github:acme" }, false, "FAIL   release.invalid-name"],
    [{ BINARY_URL: "github:acme/widget", BINARY_GITHUB_API_URL: "http://github.example.com" }, false, "FAIL   config.invalid-github-api-url"],
  ])("check %j", (vars, ok, line) => {
    const report = checkApp(app, vars);
    expect(report.ok).toBe(ok);
    expect(report.text).toContain(line);
  });

  it("names the installed release in check and as the first line of env", () => {
    const installed = "acme/widget v1.2.0: widget_1.2.0_linux_amd64.tar.gz (sha256 verified against checksums.txt)";
    expect(checkApp(app, { BINARY_URL: "github:acme/widget" }, INSTALLED).text).toContain(`ok     installed: ${installed}`);
    expect(showEnvironment(app, { A: "1" }, { reveal: false, installed: INSTALLED }).split("\n")[0]).toBe(`# installed: ${installed}`);
    expect(showEnvironment(app, { A: "1" }, { reveal: false, installed: { ...INSTALLED, release: undefined } })).not.toContain("# installed");
  });
});
