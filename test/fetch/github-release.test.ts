/**
 * Release names resolved against a loopback stand-in of GitHub (API and download host on two origins) with
 * goreleaser-style asset lists: every form of the name, the asset chosen, verification by the API's digest
 * and by checksums.txt, a lying checksums file, BINARY_ASSET, an ambiguous list, 404s, rate limits, a private
 * asset through the asset API with the token kept off the download host, and an unchanged release reused.
 */
import { confirmCache } from "../../src/fetch/cache.js";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { downloadRelease } from "../../src/fetch/github-release.js";
import type { ReleaseDownloadOptions } from "../../src/fetch/github-release.js";
import { parseReleaseName } from "../../src/fetch/release-name.js";
import { ExecpackError } from "../../src/common/errors.js";
import { TOKEN, goreleaserAssets, sha256, startGithubStandIn } from "../helpers/github-stand-in.js";
import type { GithubStandIn } from "../helpers/github-stand-in.js";

const V120 = Buffer.from("widget 1.2.0 for linux amd64\n".repeat(200));
const V130 = Buffer.from("widget 1.3.0 for linux amd64\n".repeat(200));
const ASSET_120 = "widget_1.2.0_linux_amd64.tar.gz";

let github: GithubStandIn;
let work: string;
let logs: string[];

beforeAll(async () => {
  github = await startGithubStandIn();
});
afterAll(async () => {
  await github.close();
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "execpack-github-"));
  logs = [];
  github.repos.clear();
  github.apiRequests.length = 0;
  github.downloadRequests.length = 0;
  github.repos.set("acme/widget", {
    releases: [
      { tag: "v1.1.0", assets: goreleaserAssets("widget", "1.1.0", Buffer.from("old")) },
      { tag: "v1.2.0", assets: goreleaserAssets("widget", "1.2.0", V120) },
      { tag: "v1.3.0-rc.1", prerelease: true, assets: goreleaserAssets("widget", "1.3.0-rc.1", Buffer.from("rc")) },
    ],
  });
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function options(binaryUrl: string, extra: Partial<ReleaseDownloadOptions> = {}): ReleaseDownloadOptions {
  return {
    release: parseReleaseName(binaryUrl, github.api)!,
    destination: join(work, "release.download"),
    architecture: "x86_64",
    retries: 2,
    backoff: { baseMs: 1, capMs: 20 },
    log: (line) => logs.push(line),
    ...extra,
  };
}

async function failure(attempt: Promise<unknown>, code: string, words: readonly string[]): Promise<ExecpackError> {
  const error = await attempt.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ExecpackError);
  const failed = error as ExecpackError;
  expect(failed.code).toBe(code);
  const text = [failed.message, ...failed.seen, failed.hint ?? ""].join("\n");
  for (const word of words) expect(text).toContain(word);
  expect([text, ...logs].join("\n")).not.toContain(TOKEN);
  return failed;
}

describe("a release named in BINARY_URL", () => {
  it.each([
    ["https://github.com/acme/widget/releases/latest", "acme/widget latest -> v1.2.0: "],
    ["https://github.com/acme/widget", "acme/widget latest -> v1.2.0: "],
    ["github:acme/widget", "acme/widget latest -> v1.2.0: "],
    ["https://github.com/acme/widget/releases/tag/v1.2.0", "acme/widget v1.2.0: "],
    ["github:acme/widget@v1.2.0", "acme/widget v1.2.0: "],
  ])("%s resolves to the Linux amd64 asset of v1.2.0, verified against checksums.txt", async (url, headline) => {
    const result = await downloadRelease(options(url));
    expect(await readFile(result.path)).toEqual(V120);
    expect(result.release).toMatchObject({ repository: "acme/widget", tag: "v1.2.0", asset: ASSET_120, verifiedBy: "checksums.txt" });
    expect(logs).toContain(`${headline}${ASSET_120} (5.7 KiB), sha256 verified against checksums.txt`);
    expect(github.downloadRequests.map((request) => request.path)).toEqual(["/acme/widget/releases/download/v1.2.0/checksums.txt", `/acme/widget/releases/download/v1.2.0/${ASSET_120}`]);
  });

  it("github:OWNER/REPO@TAG takes the tag asked for, an older one", async () => {
    const result = await downloadRelease(options("github:acme/widget@v1.1.0"));
    expect(result.release).toMatchObject({ tag: "v1.1.0", asset: "widget_1.1.0_linux_amd64.tar.gz" });
    expect(await readFile(result.path, "utf8")).toBe("old");
  });

  it("picks the arm64 asset on an arm64 dyno", async () => {
    const result = await downloadRelease(options("github:acme/widget", { architecture: "aarch64" }));
    expect(result.release.asset).toBe("widget_1.2.0_linux_arm64.tar.gz");
  });

  it("verifies against the API's digest when the release has one, fetching no checksums file", async () => {
    github.repos.set("acme/widget", { releases: [{ tag: "v1.2.0", assets: goreleaserAssets("widget", "1.2.0", V120, { digest: true, checksums: "none" }) }] });
    const result = await downloadRelease(options("github:acme/widget"));
    expect(result.release.verifiedBy).toBe("the asset digest GitHub publishes");
    expect(logs.at(-1)).toContain("sha256 verified against the asset digest GitHub publishes");
    expect(github.downloadRequests).toHaveLength(1);
  });

  it("says in one line that a release without checksums is not verified", async () => {
    github.repos.set("acme/widget", { releases: [{ tag: "v1.2.0", assets: goreleaserAssets("widget", "1.2.0", V120, { checksums: "none" }) }] });
    const result = await downloadRelease(options("github:acme/widget"));
    expect(result.release.verifiedBy).toBeUndefined();
    expect(logs.filter((line) => line.includes("publishes no checksum"))).toEqual([
      `acme/widget latest -> v1.2.0: ${ASSET_120} (5.7 KiB), not verified: the release publishes no checksum for it (BINARY_SHA256 would pin it)`,
    ]);
  });

  it("fails on a checksums file that disagrees with the asset, naming it, and keeps nothing", async () => {
    github.repos.set("acme/widget", { releases: [{ tag: "v1.2.0", assets: goreleaserAssets("widget", "1.2.0", V120, { checksums: "lying" }) }] });
    await failure(downloadRelease(options("github:acme/widget", { cache: { dir: join(work, "cache") } })), "release.checksum-mismatch", [
      `${ASSET_120} does not match checksums.txt`, `actual: ${sha256(V120)}`, sha256(Buffer.from("something else")), "Nothing was installed",
      "pin an earlier release you trust: heroku config:set BINARY_URL=github:acme/widget@TAG, with its tag for TAG",
    ]);
    expect(existsSync(join(work, "release.download"))).toBe(false);
    expect(existsSync(join(work, "cache", "archive"))).toBe(false);
  });

  it("names the release the last good build installed as the one to go back to, when the new one fails its checksum", async () => {
    const stateFile = join(work, "github-release.json");
    await downloadRelease(options("github:acme/widget@v1.1.0", { stateFile }));
    github.repos.get("acme/widget")!.releases[1] = { tag: "v1.2.0", assets: goreleaserAssets("widget", "1.2.0", V120, { checksums: "lying" }) };
    await failure(downloadRelease(options("github:acme/widget", { stateFile })), "release.checksum-mismatch", [
      "release: acme/widget v1.2.0", "go back to the release the last build installed: heroku config:set BINARY_URL=github:acme/widget@v1.1.0",
    ]);
  });

  it("fails when BINARY_SHA256 disagrees, although the release's checksum matches", async () => {
    await failure(downloadRelease(options("github:acme/widget", { pin: "0".repeat(64) })), "download.checksum-mismatch", ["BINARY_SHA256", sha256(V120)]);
    expect(existsSync(join(work, "release.download"))).toBe(false);
  });

  it("checks BINARY_SHA256 and the release's checksum when both are there", async () => {
    const result = await downloadRelease(options("github:acme/widget", { pin: sha256(V120) }));
    expect(result.release.verifiedBy).toBe("checksums.txt and BINARY_SHA256");
  });

  it("takes the asset BINARY_ASSET names", async () => {
    const result = await downloadRelease(options("github:acme/widget", { assetPattern: "*_linux_arm64.tar.gz" }));
    expect(result.release.asset).toBe("widget_1.2.0_linux_arm64.tar.gz");
  });

  it("fails on an ambiguous asset list, listing every asset and suggesting BINARY_ASSET", async () => {
    const assets = goreleaserAssets("widget", "1.2.0", V120);
    assets.push({ name: "widget-agent_1.2.0_linux_amd64.tar.gz", body: Buffer.from("agent") });
    github.repos.set("acme/widget", { releases: [{ tag: "v1.2.0", assets }] });
    const error = await failure(downloadRelease(options("github:acme/widget")), "release.ambiguous-asset", [
      "Several assets of acme/widget v1.2.0", `"${ASSET_120}": fits`, '"widget-agent_1.2.0_linux_amd64.tar.gz": fits',
      '"widget_1.2.0_linux_amd64.deb": a package or installer (.deb)', '"checksums.txt.sig": a checksum file', "BINARY_ASSET='",
    ]);
    expect(error.seen).toHaveLength(assets.length + 1);
    expect(github.downloadRequests).toEqual([]);
  });

  it.each([
    ["github:acme/nothing", "release.not-found", ["The repository acme/nothing was not found", "BINARY_TOKEN"]],
    ["github:acme/widget@v9.9.9", "release.not-found", ['acme/widget has no release tagged "v9.9.9"']],
    ["https://github.com/acme/widget/releases/tag/v9.9.9", "release.not-found", ['acme/widget has no release tagged "v9.9.9"']],
  ])("fails on %s with a 404 that says what is missing", async (url, code, words) => {
    await failure(downloadRelease(options(url)), code, words);
  });

  it("fails on a repository without a published release, pointing at tags", async () => {
    github.repos.set("acme/widget", { releases: [{ tag: "v2.0.0-rc.1", prerelease: true, assets: [] }] });
    await failure(downloadRelease(options("github:acme/widget")), "release.not-found", ["acme/widget has no published release", "github:acme/widget@TAG"]);
  });

  it("fails on a used-up rate limit with its own code, the reset time and a hint at BINARY_TOKEN, without retrying", async () => {
    github.rateLimit({ times: 5 });
    await failure(downloadRelease(options("github:acme/widget")), "release.rate-limited", [
      "rate limit is used up", "HTTP 403", "limit: 60 requests an hour", "resets at 2100-01-01T00:00:00.000Z", "Set BINARY_TOKEN",
    ]);
    expect(github.apiRequests).toHaveLength(1);
  });

  it("waits out a short Retry-After and goes on", async () => {
    github.rateLimit({ times: 1, status: 429, retryAfterSeconds: 0 });
    const result = await downloadRelease(options("github:acme/widget"));
    expect(result.release.tag).toBe("v1.2.0");
    expect(github.apiRequests.map((request) => request.path)).toEqual(["/repos/acme/widget/releases/latest", "/repos/acme/widget/releases/latest"]);
    expect(logs.join("\n")).toContain("Retrying in 0.0s after a rate limit");
  });

  it("fails at once on a long Retry-After, saying when to come back", async () => {
    github.rateLimit({ times: 1, status: 429, retryAfterSeconds: 600 });
    await failure(downloadRelease(options("github:acme/widget")), "release.rate-limited", ["HTTP 429", "resets at"]);
    expect(github.apiRequests).toHaveLength(1);
  });

  it("fetches a private release through the asset API with the token, and never sends the token to the download host", async () => {
    github.repos.set("acme/secret", { private: true, releases: [{ tag: "v1.2.0", assets: goreleaserAssets("secret", "1.2.0", V120) }] });
    await failure(downloadRelease(options("github:acme/secret")), "release.not-found", ["acme/secret was not found", "BINARY_TOKEN"]);

    github.apiRequests.length = 0;
    logs = [];
    const result = await downloadRelease(options("github:acme/secret", { token: TOKEN }));
    expect(await readFile(result.path)).toEqual(V120);
    expect(result.release.verifiedBy).toBe("checksums.txt");
    expect(github.apiRequests.every((request) => request.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const assetCalls = github.apiRequests.filter((request) => request.path.includes("/releases/assets/"));
    expect(assetCalls.map((request) => request.headers.accept)).toEqual(["application/octet-stream", "application/octet-stream"]);
    expect(github.downloadRequests).toHaveLength(2);
    for (const request of github.downloadRequests) {
      expect(request.path).toMatch(/^\/signed\//);
      expect(request.headers.authorization).toBeUndefined();
    }
    expect(logs.join("\n")).not.toContain(TOKEN);
    expect(logs.join("\n")).toContain("Not sending BINARY_TOKEN");
  });

  it("does not download an unchanged release again, and names the change when a new one is out", async () => {
    const cached = { cache: { dir: join(work, "cache") }, stateFile: join(work, "github-release.json") };
    await downloadRelease(options("github:acme/widget", cached));
    await confirmCache(cached.cache.dir); // as the install does once the release is in place
    const served = github.bytesServed();

    logs = [];
    const again = await downloadRelease(options("github:acme/widget", cached));
    expect(await readFile(again.path)).toEqual(V120);
    expect(again.fromCache).toBe(true);
    expect(github.bytesServed() - served).toBe(github.repos.get("acme/widget")!.releases[1]!.assets.find((asset) => asset.name === "checksums.txt")!.body.length);
    expect(logs).toContain(`acme/widget latest -> v1.2.0 (unchanged): ${ASSET_120} (5.7 KiB), sha256 verified against checksums.txt`);

    github.repos.get("acme/widget")!.releases.push({ tag: "v1.3.0", assets: goreleaserAssets("widget", "1.3.0", V130) });
    logs = [];
    const next = await downloadRelease(options("github:acme/widget", cached));
    expect(await readFile(next.path)).toEqual(V130);
    expect(logs).toContain("acme/widget v1.2.0 -> v1.3.0 (latest): widget_1.3.0_linux_amd64.tar.gz (5.7 KiB), sha256 verified against checksums.txt");
  });

  it("holds an asset of a release without checksums to what it was at the previous build, by its id", async () => {
    const cached = { cache: { dir: join(work, "cache") }, stateFile: join(work, "github-release.json") };
    const assets = goreleaserAssets("widget", "1.2.0", V120, { checksums: "none" }).map((asset) => ({ ...asset, id: 7 + asset.name.length }));
    github.repos.set("acme/widget", { releases: [{ tag: "v1.2.0", assets }] });
    await downloadRelease(options("github:acme/widget", cached));
    await confirmCache(cached.cache.dir); // as the install does once the release is in place

    // Unchanged, it is not downloaded again: the first build had no pin, and the second must not bring one that drops the cache.
    const served = github.bytesServed();
    logs = [];
    expect((await downloadRelease(options("github:acme/widget", cached))).fromCache).toBe(true);
    expect(github.bytesServed()).toBe(served);
    expect(logs.join("\n")).not.toContain("Ignoring the cached archive");

    const own = assets.find((asset) => asset.name === ASSET_120)!;
    own.body = Buffer.from(V120.toString().toUpperCase()); // the same id and size, other bytes: not what GitHub would serve
    await failure(downloadRelease(options("github:acme/widget", cached)), "release.checksum-mismatch", [
      `${ASSET_120} does not match the same asset (id ${own.id}) as downloaded by the previous build`, `expected (the same asset (id ${own.id}) as downloaded by the previous build): ${sha256(V120)}`,
    ]);
  });

  it("resolves a release page of a GitHub Enterprise Server whose API is at /api/v3", async () => {
    const enterprise = await startGithubStandIn({ "acme/widget": { releases: [{ tag: "v1.2.0", assets: goreleaserAssets("widget", "1.2.0", V120) }] } }, { apiPath: "/api/v3" });
    try {
      const page = `${new URL(enterprise.api).origin}/acme/widget/releases/tag/v1.2.0`;
      const result = await downloadRelease({ ...options("github:acme/widget"), release: parseReleaseName(page, enterprise.api)!, token: TOKEN });
      expect(result.release).toMatchObject({ tag: "v1.2.0", asset: ASSET_120, verifiedBy: "checksums.txt" });
      expect(enterprise.apiRequests.map((request) => request.path)).toEqual(expect.arrayContaining(["/api/v3/repos/acme/widget/releases/tags/v1.2.0"]));
      expect(enterprise.apiRequests.every((request) => request.path.startsWith("/api/v3/"))).toBe(true);
    } finally {
      await enterprise.close();
    }
  });
});
