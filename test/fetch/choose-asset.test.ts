import { describe, expect, it } from "vitest";
import { chooseAsset, suggestPattern } from "../../src/fetch/choose-asset.js";
import type { AssetArchitecture } from "../../src/fetch/choose-asset.js";
import { ExecpackError } from "../../src/common/errors.js";

/** goreleaser's default asset list for a project "widget" at 1.2.0. */
const GORELEASER = [
  "checksums.txt", "checksums.txt.pem", "checksums.txt.sig",
  "widget_1.2.0_darwin_amd64.tar.gz", "widget_1.2.0_darwin_arm64.tar.gz",
  "widget_1.2.0_linux_386.tar.gz", "widget_1.2.0_linux_amd64.tar.gz", "widget_1.2.0_linux_arm64.tar.gz", "widget_1.2.0_linux_armv7.tar.gz",
  "widget_1.2.0_linux_amd64.deb", "widget_1.2.0_linux_amd64.rpm", "widget_1.2.0_linux_amd64.apk", "widget_1.2.0_linux_arm64.deb",
  "widget_1.2.0_windows_amd64.zip", "widget_1.2.0_windows_arm64.zip",
  "widget_1.2.0_linux_amd64.tar.gz.sbom.json", "widget_1.2.0_source.tar.gz", "multiple.intoto.jsonl",
];
/** goreleaser's "Title-case" name template: Linux_x86_64. */
const TITLE_CASE = ["widget_Darwin_x86_64.tar.gz", "widget_Darwin_arm64.tar.gz", "widget_Linux_x86_64.tar.gz", "widget_Linux_arm64.tar.gz", "widget_Linux_i386.tar.gz", "widget_Windows_x86_64.zip", "widget_1.2.0_checksums.txt"];
/** Rust's target triples, glibc and musl. */
const RUST = [
  "widget-1.2.0-x86_64-unknown-linux-gnu.tar.gz", "widget-1.2.0-x86_64-unknown-linux-musl.tar.gz", "widget-1.2.0-aarch64-unknown-linux-gnu.tar.gz",
  "widget-1.2.0-aarch64-apple-darwin.tar.gz", "widget-1.2.0-x86_64-pc-windows-msvc.zip", "widget-1.2.0-x86_64-pc-windows-gnu.zip",
  "widget-1.2.0-x86_64-unknown-linux-gnu.tar.gz.sha256", "widget_1.2.0_amd64.deb",
];
/** Fleet's: the server names no architecture; fleetctl, a companion, ships beside it. */
const FLEET = ["fleet_v4.60.0_linux.tar.gz", "fleet_v4.60.0_linux_arm64.tar.gz", "fleetctl_v4.60.0_linux_amd64.tar.gz", "fleetctl_v4.60.0_macos.tar.gz", "fleetctl_v4.60.0_windows_amd64.zip", "fleetctl_v4.60.0_amd64.deb", "fleetctl_v4.60.0_amd64.rpm", "checksums.txt"];
const POSTGREST = ["postgrest-v12.2.3-linux-static-x64.tar.xz", "postgrest-v12.2.3-linux-static-aarch64.tar.xz", "postgrest-v12.2.3-macos-aarch64.tar.xz", "postgrest-v12.2.3-windows-x64.zip", "postgrest-v12.2.3-ubuntu-aarch64.tar.xz"];
const GOTIFY = ["gotify-linux-386.zip", "gotify-linux-amd64.zip", "gotify-linux-arm-7.zip", "gotify-linux-arm64.zip", "gotify-windows-amd64.exe.zip", "gotify-windows-386.exe.zip"];
/** Bare binaries, as jq ships them. */
const JQ = ["jq-linux64", "jq-linux-amd64", "jq-linux-arm64", "jq-linux-i386", "jq-osx-amd64", "jq-macos-arm64", "jq-win64.exe", "sha256sum.txt"];

const names = (list: readonly string[]) => list.map((name) => ({ name }));

function choose(list: readonly string[], architecture: AssetArchitecture = "x86_64", pattern?: string, repo = "widget"): string {
  return chooseAsset(names(list), { repo, release: `acme/${repo} v1.2.0`, tag: "v1.2.0", architecture, pattern }).name;
}

function failure(list: readonly string[], architecture: AssetArchitecture = "x86_64", pattern?: string, repo = "widget"): ExecpackError {
  try {
    choose(list, architecture, pattern, repo);
  } catch (error) {
    expect(error).toBeInstanceOf(ExecpackError);
    return error as ExecpackError;
  }
  throw new Error("an asset was chosen");
}

describe("chooseAsset", () => {
  it.each<[string, readonly string[], AssetArchitecture, string | undefined, string, string]>([
    ["goreleaser, amd64", GORELEASER, "x86_64", undefined, "widget", "widget_1.2.0_linux_amd64.tar.gz"],
    ["goreleaser, arm64", GORELEASER, "aarch64", undefined, "widget", "widget_1.2.0_linux_arm64.tar.gz"],
    ["title case Linux_x86_64", TITLE_CASE, "x86_64", undefined, "widget", "widget_Linux_x86_64.tar.gz"],
    ["title case Linux_arm64", TITLE_CASE, "aarch64", undefined, "widget", "widget_Linux_arm64.tar.gz"],
    ["glibc over musl", RUST, "x86_64", undefined, "widget", "widget-1.2.0-x86_64-unknown-linux-gnu.tar.gz"],
    ["the only aarch64 triple", RUST, "aarch64", undefined, "widget", "widget-1.2.0-aarch64-unknown-linux-gnu.tar.gz"],
    ["musl when it is all there is", ["widget-x86_64-unknown-linux-musl.tar.gz", "widget-aarch64-apple-darwin.tar.gz"], "x86_64", undefined, "widget", "widget-x86_64-unknown-linux-musl.tar.gz"],
    ["named like the repository over a companion", FLEET, "x86_64", undefined, "fleet", "fleet_v4.60.0_linux.tar.gz"],
    ["the arm64 build of fleet", FLEET, "aarch64", undefined, "fleet", "fleet_v4.60.0_linux_arm64.tar.gz"],
    ["a companion when asked for", FLEET, "x86_64", "fleetctl_*_linux_amd64.tar.gz", "fleet", "fleetctl_v4.60.0_linux_amd64.tar.gz"],
    ["static x64 tar.xz", POSTGREST, "x86_64", undefined, "postgrest", "postgrest-v12.2.3-linux-static-x64.tar.xz"],
    ["static aarch64 over ubuntu's", POSTGREST, "aarch64", undefined, "postgrest", "postgrest-v12.2.3-linux-static-aarch64.tar.xz"],
    ["a zip not named like the repository", GOTIFY, "x86_64", undefined, "server", "gotify-linux-amd64.zip"],
    ["gotify arm64, not arm-7", GOTIFY, "aarch64", undefined, "server", "gotify-linux-arm64.zip"],
    ["a bare binary of several spellings", JQ, "aarch64", undefined, "jq", "jq-linux-arm64"],
    ["BINARY_ASSET picks among several", JQ, "x86_64", "jq-linux64", "jq", "jq-linux64"],
    ["BINARY_ASSET is case-insensitive", TITLE_CASE, "x86_64", "*linux_x86_64*", "widget", "widget_Linux_x86_64.tar.gz"],
    ["BINARY_ASSET matching several, narrowed by the rules", GORELEASER, "x86_64", "widget_*_linux_*", "widget", "widget_1.2.0_linux_amd64.tar.gz"],
    ["BINARY_ASSET takes even a package, when that is asked", GORELEASER, "x86_64", "*_amd64.deb", "widget", "widget_1.2.0_linux_amd64.deb"],
    ["tar.gz over zip and bare of the same build", ["widget-linux-amd64.zip", "widget-linux-amd64.tar.gz", "widget-linux-amd64"], "x86_64", undefined, "widget", "widget-linux-amd64.tar.gz"],
    ["a name without OS or architecture", ["widget.tar.gz", "widget-darwin.tar.gz", "SHA256SUMS"], "x86_64", undefined, "widget", "widget.tar.gz"],
    ["linux-arm-64bit is arm64", ["hugo_0.20_Linux-64bit.tar.gz", "hugo_0.20_Linux-ARM64.tar.gz", "hugo_0.20_Linux-ARM.tar.gz"], "x86_64", undefined, "hugo", "hugo_0.20_Linux-64bit.tar.gz"],
    ["amd64 over an unnamed architecture", ["widget-linux.tar.gz", "widget-linux-amd64.tar.gz"], "x86_64", undefined, "widget", "widget-linux-amd64.tar.gz"],
    ["a distribution's name says Linux", ["widget-ubuntu-aarch64.tar.xz", "widget-macos-aarch64.tar.xz", "widget-arm64.zip"], "aarch64", undefined, "widget", "widget-ubuntu-aarch64.tar.xz"],
    ["glibc over an Alpine build", ["widget-linux-amd64-alpine.tar.gz", "widget-linux-amd64.tar.gz"], "x86_64", undefined, "widget", "widget-linux-amd64.tar.gz"],
    ["a release build over a debug build", ["widget-linux-amd64.tar.gz", "widget-linux-amd64-debug.tar.gz"], "x86_64", undefined, "widget", "widget-linux-amd64.tar.gz"],
  ])("%s", (_case, list, architecture, pattern, repo, expected) => {
    expect(choose(list, architecture, pattern, repo)).toBe(expected);
  });

  it.each<[string, readonly string[], string, string[]]>([
    ["a macOS-only release", ["widget-darwin-amd64.tar.gz", "widget-macos-arm64.zip"], "release.no-asset", ['"widget-darwin-amd64.tar.gz": for macOS']],
    ["packages and checksums only", ["widget_1.2.0_amd64.deb", "widget-1.2.0.x86_64.rpm", "widget.msi", "widget.dmg", "widget.exe", "checksums.txt", "SHA256SUMS", "widget.tar.gz.sha256"], "release.no-asset", [
      '"widget_1.2.0_amd64.deb": a package or installer (.deb)', '"widget.msi": a package or installer (.msi)', '"widget.dmg": a package or installer (.dmg)',
      '"widget.exe": a package or installer (.exe)', '"checksums.txt": a checksum file', '"SHA256SUMS": a checksum file', '"widget.tar.gz.sha256": a checksum file',
    ]],
    ["signatures, certificates, SBOMs, sources", ["widget.tar.gz.sig", "widget.pem", "widget.asc", "widget.spdx.json", "widget.cdx.json", "multiple.intoto.jsonl", "widget-1.2.0-src.tar.gz", "widget_1.2.0_source.zip"], "release.no-asset", [
      '"widget.tar.gz.sig": a signature or certificate', '"widget.pem": a signature or certificate', '"widget.spdx.json": an SBOM or attestation',
      '"multiple.intoto.jsonl": an SBOM or attestation', '"widget-1.2.0-src.tar.gz": a source archive', '"widget_1.2.0_source.zip": a source archive',
    ]],
    ["other architectures only", ["widget-linux-arm64.tar.gz", "widget-linux-386.tar.gz", "widget-linux-armv7.tar.gz", "widget-linux-s390x.tar.gz"], "release.no-asset", [
      '"widget-linux-arm64.tar.gz": for another architecture (arm64)', '"widget-linux-386.tar.gz": for another architecture (386)', '"widget-linux-s390x.tar.gz": for another architecture (s390x)',
    ]],
    ["a format execpack does not read", ["widget-linux-amd64.tar.bz2", "widget-linux-amd64.7z", "widget-linux-amd64.tar.zst"], "release.no-asset", ['"widget-linux-amd64.tar.bz2": a format execpack does not read (.tar.bz2)']],
    ["no assets at all", [], "release.no-asset", ["the release has no assets"]],
    ["two servers of one release", ["widget-server-linux-amd64.tar.gz", "widget-agent-linux-amd64.tar.gz", "widget-darwin.zip"], "release.ambiguous-asset", [
      '"widget-server-linux-amd64.tar.gz": fits', '"widget-agent-linux-amd64.tar.gz": fits', '"widget-darwin.zip": for macOS', "BINARY_ASSET=",
    ]],
  ])("fails on %s, listing why each asset was passed over", (_case, list, code, lines) => {
    const error = failure(list);
    expect(error.code).toBe(code);
    for (const line of lines) expect([...error.seen, error.hint].join("\n")).toContain(line);
    for (const name of list) expect(error.seen.join("\n")).toContain(`"${name}"`);
    expect(error.hint).toContain("BINARY_ASSET");
  });

  it.each([
    [["widget_1.2.0_linux_amd64.tar.gz", "agent_1.2.0_linux_amd64.tar.gz"], "heroku config:set BINARY_ASSET='widget_*_linux_amd64.tar.gz'"],
    [["widget $(touch x) linux amd64.tar.gz", "agent-linux-amd64.tar.gz"], "heroku config:set BINARY_ASSET='widget $(touch x) linux amd64.tar.gz'"],
    [["widget\u001b[31m-linux-amd64.tar.gz", "agent-linux-amd64.tar.gz"], "Choose one with BINARY_ASSET: a glob"],
  ])("suggests a BINARY_ASSET a shell takes literally for %j", (list, hint) => {
    const error = failure(list, "x86_64", undefined, "nothing");
    expect(error.code).toBe("release.ambiguous-asset");
    expect(error.hint).toContain(hint);
  });

  it("says which names BINARY_ASSET matched none of", () => {
    const error = failure(GORELEASER, "x86_64", "*_linux_x86_64.tar.gz");
    expect(error.code).toBe("release.asset-not-found");
    expect(error.seen).toContain('BINARY_ASSET: "*_linux_x86_64.tar.gz"');
    expect(error.seen).toContain('  "widget_1.2.0_linux_amd64.tar.gz"');
  });

  it("lists what BINARY_ASSET left out when what it matched is still ambiguous", () => {
    const error = failure(["a-linux-amd64.tar.gz", "b-linux-amd64.tar.gz", "c.deb"], "x86_64", "*.tar.gz", "widget");
    expect(error.code).toBe("release.ambiguous-asset");
    expect(error.seen).toContain('  "c.deb": does not match BINARY_ASSET');
  });

  it.each([
    ["widget_1.2.0_linux_amd64.tar.gz", "v1.2.0", "widget_*_linux_amd64.tar.gz"],
    ["fleet_v4.60.0_linux.tar.gz", "fleet-v4.60.0", "fleet_v*_linux.tar.gz"],
    ["widget-linux-amd64.tar.gz", "v1.2.0", "widget-linux-amd64.tar.gz"],
    ["widget_2.0.0-rc.1_linux.zip", "v2.0.0-rc.1", "widget_*_linux.zip"],
  ])("suggests BINARY_ASSET for %s at %s: %s", (name, tag, expected) => {
    expect(suggestPattern(name, tag)).toBe(expected);
  });
});
