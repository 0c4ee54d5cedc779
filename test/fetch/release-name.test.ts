import { describe, expect, it } from "vitest";
import { parseApiUrl, parseReleaseName } from "../../src/fetch/release-name.js";
import { checksumFiles, findChecksum } from "../../src/fetch/checksums.js";

const HEX = "0123456789abcdef".repeat(4);

describe("parseReleaseName", () => {
  it.each<[string, string | undefined, { owner: string; repo: string; tag: string | undefined; api: string } | undefined]>([
    ["https://github.com/acme/widget/releases/latest", undefined, { owner: "acme", repo: "widget", tag: undefined, api: "https://api.github.com/" }],
    ["https://github.com/acme/widget/releases/tag/v1.2.0", undefined, { owner: "acme", repo: "widget", tag: "v1.2.0", api: "https://api.github.com/" }],
    ["https://github.com/fleetdm/fleet/releases/tag/fleet-v4.60.0/", undefined, { owner: "fleetdm", repo: "fleet", tag: "fleet-v4.60.0", api: "https://api.github.com/" }],
    ["https://github.com/acme/widget/releases/tag/app%2Fv1", undefined, { owner: "acme", repo: "widget", tag: "app/v1", api: "https://api.github.com/" }],
    ["https://github.com/acme/widget", undefined, { owner: "acme", repo: "widget", tag: undefined, api: "https://api.github.com/" }],
    ["https://github.com/acme/widget.git", undefined, { owner: "acme", repo: "widget", tag: undefined, api: "https://api.github.com/" }],
    ["https://github.com/acme/widget/releases", undefined, { owner: "acme", repo: "widget", tag: undefined, api: "https://api.github.com/" }],
    ["  github:acme/widget\n", undefined, { owner: "acme", repo: "widget", tag: undefined, api: "https://api.github.com/" }],
    ["github:acme/widget@v1.2.0", undefined, { owner: "acme", repo: "widget", tag: "v1.2.0", api: "https://api.github.com/" }],
    ["github:acme/widget@latest", undefined, { owner: "acme", repo: "widget", tag: undefined, api: "https://api.github.com/" }],
    ["github:acme/widget", "http://127.0.0.1:9/", { owner: "acme", repo: "widget", tag: undefined, api: "http://127.0.0.1:9/" }],
    ["https://git.example.com/acme/widget/releases/tag/v2", "https://git.example.com/api/v3", { owner: "acme", repo: "widget", tag: "v2", api: "https://git.example.com/api/v3" }],
    ["https://github.com/acme/widget/releases/download/v1.2.0/widget_linux_amd64.tar.gz", undefined, undefined],
    ["https://github.com/acme/widget/releases/latest/download/widget_linux_amd64.tar.gz", undefined, undefined],
    ["https://github.com/acme/widget/archive/refs/tags/v1.2.0.tar.gz", undefined, undefined],
    ["https://example.org/acme/widget/releases/latest", undefined, undefined],
    ["https://git.example.com/acme/widget/releases/tag/v2", undefined, undefined],
    ["file:///tmp/widget.zip", undefined, undefined],
  ])("%s (API %s)", (url, api, expected) => {
    const name = parseReleaseName(url, api);
    expect(name && { owner: name.owner, repo: name.repo, tag: name.tag, api: name.api.href }).toEqual(expected);
  });

  it.each(["github:acme", "github:acme/", "github:/widget", "github:acme/widget/extra", "github:ac me/widget"])("refuses the shorthand %s", (url) => {
    expect(() => parseReleaseName(url, undefined)).toThrow(expect.objectContaining({ code: "release.invalid-name", hint: expect.stringContaining("github:acme/widget@v1.2.0") }));
  });

  it.each([
    ["api.github.com", "not the https:// address"],
    ["ftp://api.example.com", "not the https:// address"],
    ["https://token:x@api.example.com", "not the https:// address"],
    ["http://api.example.com", "plain http:// only on loopback"],
  ])("refuses BINARY_GITHUB_API_URL=%s", (api, words) => {
    expect(() => parseApiUrl(api)).toThrow(expect.objectContaining({ code: "config.invalid-github-api-url", message: expect.stringContaining(words) }));
  });
});

describe("checksums published by a release", () => {
  it.each<[readonly string[], string[]]>([
    [["checksums.txt", "checksums.txt.sig", "widget.tar.gz", "widget.tar.gz.sha256"], ["widget.tar.gz.sha256", "checksums.txt"]],
    [["widget_1.2.0_checksums.txt", "widget.tar.gz"], ["widget_1.2.0_checksums.txt"]],
    [["SHA256SUMS", "SHA256SUMS.asc", "sha256sums.txt", "widget.tar.gz"], ["SHA256SUMS", "sha256sums.txt"]],
    [["widget.tar.gz", "widget.tar.gz.sig", "notes.txt"], []],
  ])("among %o, looks in %o", (names, expected) => {
    expect(checksumFiles(names, "widget.tar.gz")).toEqual(expected);
  });

  it.each<[string, string, string | undefined]>([
    [`${HEX}  widget.tar.gz\n${"f".repeat(64)}  other.zip\n`, "checksums.txt", HEX],
    [`${"f".repeat(64)}  other.zip\n${HEX.toUpperCase()} *./dist/widget.tar.gz\r\n`, "SHA256SUMS", HEX],
    [`SHA256 (widget.tar.gz) = ${HEX}\n`, "checksums.txt", HEX],
    [`${HEX}\n`, "widget.tar.gz.sha256", HEX],
    [`${HEX}\n`, "checksums.txt", undefined],
    [`${"f".repeat(64)}  widget.tar.gz.sbom.json\n`, "checksums.txt", undefined],
    [`${"a".repeat(128)}  widget.tar.gz\n`, "checksums.txt", undefined],
  ])("reads %j from %s", (text, file, expected) => {
    expect(findChecksum(text, "widget.tar.gz", file)).toBe(expected);
  });
});
