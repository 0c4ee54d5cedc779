/**
 * A release named in BINARY_URL (release-name.ts), fetched: the release looked up through GitHub's API, the
 * asset for the dyno chosen (choose-asset.ts), its expected SHA-256 taken from the API's asset `digest` or a
 * checksums file of the same release (checksums.ts), then the asset downloaded like any BINARY_URL
 * (download.ts: retries, redirects, the build cache) with that digest as its pin, so a release whose files
 * disagree installs nothing. BINARY_TOKEN goes to the API's origin only: with a token the assets come through
 * the asset API (`Accept: application/octet-stream`), whose redirect to a download host gets no token.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { checksumFiles, findChecksum } from "./checksums.js";
import { chooseAsset } from "./choose-asset.js";
import type { AssetArchitecture } from "./choose-asset.js";
import { download } from "./download.js";
import type { DownloadOptions, DownloadResult } from "./download.js";
import type { BodyReader } from "./tee.js";
import { githubApi } from "./github-api.js";
import type { GithubApi } from "./github-api.js";
import { describeRelease } from "./release-name.js";
import type { ReleaseName } from "./release-name.js";
import { quote } from "./url-policy.js";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { formatBytes, shellWord } from "../common/output.js";

export interface ReleaseDownloadOptions extends Omit<DownloadOptions, "url" | "sha256" | "accept" | "readBody"> {
  release: ReleaseName;
  /** BINARY_SHA256: when set, the asset must match it as well as what the release publishes. */
  pin?: string | undefined;
  /** BINARY_ASSET. */
  assetPattern?: string | undefined;
  architecture: AssetArchitecture;
  /** Where the last build's resolution is kept (CACHE_DIR), for the `v1.2.0 -> v1.3.0` line; none at boot. */
  stateFile?: string | undefined;
  /** The tag installed before, when no state file records it (at boot: the tag the slug was built with). */
  installedTag?: string | undefined;
  /** The asset's body reader (DownloadOptions.readBody), given the asset's browser address once it is chosen. */
  readAssetBody?: ((downloadUrl: string) => BodyReader) | undefined;
}

/** What was resolved, as the slug's manifest records it. */
export interface ResolvedRelease {
  /** `acme/widget` */
  repository: string;
  tag: string;
  asset: string;
  size: number;
  /** `checksums.txt`, `the asset digest GitHub publishes`, `BINARY_SHA256`..., or undefined when nothing was checked. */
  verifiedBy: string | undefined;
  /** The asset's browser address: its last segment is the asset's file name. */
  downloadUrl: string;
}

interface ReleaseAsset {
  id: number;
  name: string;
  size: number;
  /** `sha256:<hex>` on assets uploaded since GitHub started computing digests (2025); null before. */
  digest?: string | null;
  /** The asset API: the bytes with `Accept: application/octet-stream`, private ones with a token. */
  url: string;
  browser_download_url: string;
}

interface Expected {
  sha256: string;
  /** Where it comes from, for the build log and the mismatch error. */
  from: string;
  /**
   * Whether the download may take it as its pin. The release's own digest may: it is the same at every build,
   * so the build cache keeps serving what it verified. The previous build's hash may not: the first build had
   * no pin, and a pin that appears would make the cache drop the very copy it would have reused.
   */
  pin: boolean;
}

const MAX_CHECKSUM_FILE_BYTES = 1024 * 1024;

export async function downloadRelease(options: ReleaseDownloadOptions): Promise<DownloadResult & { release: ResolvedRelease }> {
  const { release: name, log = () => {} } = options;
  const repository = `${name.owner}/${name.repo}`;
  const api = githubApi({ ...options, api: name.api, token: options.token });
  let found: { tag: string; assets: ReleaseAsset[] };
  try {
    found = await lookUpRelease(api, name);
  } finally {
    await api.close();
  }
  const asset = chooseAsset(found.assets, {
    repo: name.repo, release: `${repository} ${found.tag}`, tag: found.tag, architecture: options.architecture, pattern: options.assetPattern,
  });
  const expected = digestOf(asset) ?? (await publishedChecksum(options, found.assets, asset));
  const previous = await readState(options.stateFile, repository);
  const installedTag = previous?.tag ?? options.installedTag;
  log(`Downloading ${quote(asset.name)} of ${repository} ${found.tag}`);
  const result = await downloadVerified(options, asset, expected ?? sameAsset(previous, asset), { repository, tag: found.tag, trusted: installedTag });
  const verifiedBy = verification(expected, options.pin);
  log(`${headline(name, found.tag, installedTag)}: ${asset.name} (${formatBytes(asset.size)}), ${verifiedBy ? `sha256 verified against ${verifiedBy}` : "not verified: the release publishes no checksum for it (BINARY_SHA256 would pin it)"}`);
  await remember(options, { repository, tag: found.tag, asset: asset.name, assetId: asset.id, size: asset.size, sha256: result.sha256 });
  return { ...result, release: { repository, tag: found.tag, asset: asset.name, size: asset.size, verifiedBy, downloadUrl: asset.browser_download_url } };
}

// ---- the release --------------------------------------------------------------------------------------

async function lookUpRelease(api: GithubApi, name: ReleaseName): Promise<{ tag: string; assets: ReleaseAsset[] }> {
  const repo = `/repos/${encodeURIComponent(name.owner)}/${encodeURIComponent(name.repo)}`;
  const path = name.tag === undefined ? `${repo}/releases/latest` : `${repo}/releases/tags/${name.tag.split("/").map(encodeURIComponent).join("/")}`;
  const answer = await api.get(path);
  if (answer.status === 404) throw await notFound(api, repo, name);
  const release = answer.body as { tag_name?: unknown; assets?: unknown };
  const assets = Array.isArray(release?.assets) ? (release.assets as ReleaseAsset[]) : undefined;
  if (typeof release?.tag_name !== "string" || !assets || !assets.every(isAsset)) {
    throw new ExecpackError("release.api-error", `The GitHub API's answer for ${describeRelease(name)} is not a release`, {
      seen: [`API: ${quote(`${name.api.href.replace(/\/$/, "")}${path}`)}`],
      hint: "Check BINARY_GITHUB_API_URL: it must be the address of GitHub's REST API (https://HOST/api/v3 on GitHub Enterprise Server).",
    });
  }
  return { tag: release.tag_name, assets };
}

function isAsset(value: unknown): value is ReleaseAsset {
  const asset = value as Partial<ReleaseAsset> | undefined;
  return typeof asset?.name === "string" && typeof asset.size === "number" && typeof asset.url === "string" && typeof asset.browser_download_url === "string";
}

/** A 404 of the release: the repository may be missing (or private, without a token), or only the release. */
async function notFound(api: GithubApi, repo: string, name: ReleaseName): Promise<ExecpackError> {
  const repository = `${name.owner}/${name.repo}`;
  const page = `${webOrigin(name.api)}/${repository}/releases`;
  if ((await api.get(repo)).status === 404) {
    return new ExecpackError("release.not-found", `The repository ${repository} was not found`, {
      seen: [`release: ${describeRelease(name)}`, `API: ${quote(name.api.href.replace(/\/$/, ""))}`],
      hint: "Check the owner and repository in BINARY_URL. A private repository looks missing without a token: set BINARY_TOKEN to a token that may read it.",
    });
  }
  if (name.tag !== undefined) {
    return new ExecpackError("release.not-found", `${repository} has no release tagged ${quote(name.tag)}`, {
      seen: [`release: ${describeRelease(name)}`],
      hint: `Check the tag on ${page} (a tag without a published release does not count), or drop it for the latest release.`,
    });
  }
  return new ExecpackError("release.not-found", `${repository} has no published release`, {
    seen: [`release: ${describeRelease(name)}`],
    hint: `GitHub's latest release leaves out drafts and prereleases: name one by its tag (github:${repository}@TAG, or ${page}/tag/TAG).`,
  });
}

/** Where people see the releases: github.com, or the GitHub Enterprise Server whose API is https://HOST/api/v3. */
function webOrigin(api: URL): string {
  return api.hostname !== "api.github.com" && /^\/api\/v3\/?$/.test(api.pathname) ? api.origin : "https://github.com";
}

// ---- what the release says the asset's SHA-256 is -----------------------------------------------------

function digestOf(asset: ReleaseAsset): Expected | undefined {
  const match = /^sha256:([0-9a-f]{64})$/i.exec(asset.digest ?? "");
  return match ? { sha256: match[1]!.toLowerCase(), from: "the asset digest GitHub publishes", pin: true } : undefined;
}

async function publishedChecksum(options: ReleaseDownloadOptions, assets: readonly ReleaseAsset[], asset: ReleaseAsset): Promise<Expected | undefined> {
  for (const fileName of checksumFiles(assets.map((each) => each.name), asset.name)) {
    const file = assets.find((each) => each.name === fileName)!;
    if (file.size > MAX_CHECKSUM_FILE_BYTES) continue;
    const destination = `${options.destination}.checksums`;
    try {
      await download({ ...downloadOptions(options), ...source(options, file), destination, cache: undefined, onProgress: undefined });
      const sha256 = findChecksum(await readFile(destination, "utf8"), asset.name, fileName);
      if (sha256) return { sha256, from: fileName, pin: true };
    } finally {
      await rm(destination, { force: true });
    }
  }
  return undefined;
}

// ---- the asset itself ---------------------------------------------------------------------------------

/** What a download of this release's files shares with every other: timeouts, retries, deadline, cache, log. */
function downloadOptions(options: ReleaseDownloadOptions): Omit<DownloadOptions, "url"> {
  const { release: _release, pin: _pin, assetPattern: _assetPattern, architecture: _architecture, stateFile: _stateFile, installedTag: _installedTag, readAssetBody: _readAssetBody, ...shared } = options;
  return shared;
}

/** With a token, the asset API on the API's own origin; without one, the public download address. */
function source(options: ReleaseDownloadOptions, asset: ReleaseAsset): Pick<DownloadOptions, "url" | "token" | "accept"> {
  const api = options.release.api;
  const viaApi = options.token !== undefined && URL.canParse(asset.url) && new URL(asset.url).origin === api.origin;
  return viaApi ? { url: asset.url, token: options.token, accept: "application/octet-stream" } : { url: asset.browser_download_url, token: undefined };
}

/** The release being installed, and the tag the last good build installed (the one to fall back to), if any. */
interface ReleaseAt {
  repository: string;
  tag: string;
  trusted: string | undefined;
}

async function downloadVerified(options: ReleaseDownloadOptions, asset: ReleaseAsset, expected: Expected | undefined, release: ReleaseAt): Promise<DownloadResult> {
  // The release's digest is the pin when BINARY_SHA256 is not set: the download checks it before keeping the file.
  let result: DownloadResult;
  try {
    result = await download({
      ...downloadOptions(options), ...source(options, asset), sha256: options.pin ?? (expected?.pin ? expected.sha256 : undefined),
      readBody: options.readAssetBody?.(asset.browser_download_url),
    });
  } catch (error) {
    if (options.pin === undefined && expected?.pin && isExecpackError(error) && error.code === "download.checksum-mismatch") {
      throw mismatch(release, asset, expected, /^actual:\s*([0-9a-f]{64})$/m.exec(error.seen.join("\n"))?.[1]);
    }
    throw error;
  }
  if (expected && result.sha256 !== expected.sha256) {
    await rm(result.path, { force: true });
    throw mismatch(release, asset, expected, result.sha256);
  }
  return result;
}

function mismatch(release: ReleaseAt, asset: ReleaseAsset, expected: Expected, actual: string | undefined): ExecpackError {
  const fallBack = release.trusted !== undefined && release.trusted !== release.tag
    ? `go back to the release the last build installed: heroku config:set BINARY_URL=${shellWord(`github:${release.repository}@${release.trusted}`) ?? `github:${release.repository}@TAG`}`
    : `pin an earlier release you trust: heroku config:set BINARY_URL=github:${release.repository}@TAG, with its tag for TAG`;
  return new ExecpackError("release.checksum-mismatch", `${asset.name} does not match ${expected.from}`, {
    seen: [`release: ${release.repository} ${release.tag}`, `asset: ${quote(asset.name)}`, `expected (${expected.from}): ${expected.sha256}`, `actual: ${actual ?? "unknown"}`],
    hint: `Nothing was installed. The release's files disagree: the asset or its checksum was replaced after publishing, or the download was altered. Tell the project; to deploy meanwhile, ${fallBack}.`,
  });
}

function verification(expected: Expected | undefined, pin: string | undefined): string | undefined {
  if (expected && pin) return `${expected.from} and BINARY_SHA256`;
  if (pin) return "BINARY_SHA256 (the release publishes no checksum)";
  return expected?.from;
}

// ---- the build log's account ---------------------------------------------------------------------------

function headline(name: ReleaseName, tag: string, previous: string | undefined): string {
  const repository = `${name.owner}/${name.repo}`;
  if (previous !== undefined && previous !== tag) return `${repository} ${previous} -> ${tag}${name.tag === undefined ? " (latest)" : ""}`;
  if (name.tag !== undefined) return `${repository} ${tag}`;
  return `${repository} latest -> ${tag}${previous === tag ? " (unchanged)" : ""}`;
}

/** What the previous build resolved and downloaded (CACHE_DIR/execpack/github-release.json). */
interface State {
  repository: string;
  tag: string;
  asset: string;
  assetId: number;
  size: number;
  sha256: string;
}

async function readState(stateFile: string | undefined, repository: string): Promise<State | undefined> {
  if (stateFile === undefined) return undefined;
  try {
    const state = JSON.parse(await readFile(stateFile, "utf8")) as Partial<State>;
    return state.repository === repository && typeof state.tag === "string" && typeof state.sha256 === "string" ? (state as State) : undefined;
  } catch {
    return undefined; // first build, or a cache from before release names: nothing to compare with
  }
}

/**
 * GitHub never changes an asset's bytes under its id (a re-upload is a new asset): when the release publishes
 * no checksum, what the same asset hashed to at the previous build still says what it must be: a download
 * that differs is caught.
 */
function sameAsset(previous: State | undefined, asset: ReleaseAsset): Expected | undefined {
  if (previous?.assetId !== asset.id || previous.asset !== asset.name || previous.size !== asset.size) return undefined;
  return { sha256: previous.sha256, from: `the same asset (id ${asset.id}) as downloaded by the previous build`, pin: false };
}

/** Remembering is a nicety for the next build's log: failing to is not worth failing this build. */
async function remember(options: ReleaseDownloadOptions, state: State): Promise<void> {
  if (options.stateFile === undefined) return;
  try {
    await mkdir(dirname(options.stateFile), { recursive: true });
    await writeFile(options.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  } catch (error) {
    options.log?.(`Could not remember the release in the build cache: ${(error as Error).message}`);
  }
}

