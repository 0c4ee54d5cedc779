/**
 * A loopback stand-in of GitHub for release names: the REST API on one origin (BINARY_GITHUB_API_URL) and the
 * download host on another (two ports of 127.0.0.1), as GitHub's API and its asset host are. The API answers
 * the release lookups execpack makes (latest, by tag, the repository), hides private repositories from
 * requests without the token, serves assets through the asset API (a redirect to a signed address on the
 * download host for `Accept: application/octet-stream`), and can be told to be rate-limited. The download
 * host serves public assets at their browser address with an ETag, and counts the bytes it sends.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StandInAsset {
  name: string;
  body: Buffer;
  /** Publish the API's `digest` field (sha256:...) for this asset; GitHub has it on assets uploaded since 2025. */
  digest?: boolean;
  /** The asset's id; by default one per name and content, as GitHub gives a re-uploaded asset a new id. */
  id?: number;
}

export interface StandInRelease {
  tag: string;
  assets: StandInAsset[];
  prerelease?: boolean;
}

export interface StandInRepo {
  /** Latest last, as releases are published. */
  releases: StandInRelease[];
  /** Seen by the API only with `Authorization: Bearer <token>`; its assets only through the asset API. */
  private?: boolean;
}

export interface SeenRequest {
  path: string;
  headers: IncomingHttpHeaders;
}

export interface RateLimit {
  /** How many more API requests get the 403 (or 429). */
  times: number;
  status?: 403 | 429;
  retryAfterSeconds?: number;
}

export interface GithubStandIn {
  api: string;
  downloads: string;
  repos: Map<string, StandInRepo>;
  apiRequests: SeenRequest[];
  downloadRequests: SeenRequest[];
  /** Bytes of asset bodies sent by the download host (a 304 sends none). */
  bytesServed(): number;
  rateLimit(limit: RateLimit): void;
  close(): Promise<void>;
}

export const TOKEN = "ghp_standInToken0123456789";
const RESET_EPOCH_SECONDS = 4_102_444_800; // 2100-01-01T00:00:00Z

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `apiPath`: where the API lives on its origin, `/api/v3` as on GitHub Enterprise Server; the root by default. */
export async function startGithubStandIn(repos: Record<string, StandInRepo> = {}, options: { apiPath?: string } = {}): Promise<GithubStandIn> {
  const apiPath = options.apiPath ?? "";
  const state = { repos: new Map(Object.entries(repos)), bytes: 0, limit: undefined as RateLimit | undefined };
  const apiRequests: SeenRequest[] = [];
  const downloadRequests: SeenRequest[] = [];
  const signed = new Map<string, Buffer>(); // one-time-looking addresses the asset API redirects to
  const ids = new Map<string, { repo: string; asset: StandInAsset; id: number }>();
  let nextId = 1000;
  const idOf = (repo: string, asset: StandInAsset): number => {
    if (asset.id !== undefined) {
      ids.set(`${repo}/${asset.name}/id`, { repo, asset, id: asset.id });
      return asset.id;
    }
    const key = `${repo}/${asset.name}/${sha256(asset.body)}`;
    if (!ids.has(key)) ids.set(key, { repo, asset, id: nextId++ });
    return ids.get(key)!.id;
  };

  const downloads = await listen((request, response) => {
    downloadRequests.push({ path: request.url ?? "/", headers: request.headers });
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    const signedBody = signed.get(path);
    const match = /^\/([^/]+\/[^/]+)\/releases\/download\/(.+)\/([^/]+)$/.exec(path);
    const repo = match ? state.repos.get(match[1]!) : undefined;
    const body = signedBody ?? (repo && !repo.private ? repo.releases.find((release) => release.tag === match![2])?.assets.find((asset) => asset.name === match![3])?.body : undefined);
    if (!body) return send(response, 404, { "content-type": "text/html" }, "<html>Not Found</html>");
    const etag = `"${sha256(body).slice(0, 16)}"`;
    if (request.headers["if-none-match"] === etag) return send(response, 304, { etag }, "");
    state.bytes += body.length;
    send(response, 200, { "content-type": "application/octet-stream", etag }, body);
  });

  const api = await listen((request, response) => {
    apiRequests.push({ path: request.url ?? "/", headers: request.headers });
    if (state.limit && state.limit.times > 0) {
      state.limit.times -= 1;
      const headers: Record<string, string> = {
        "content-type": "application/json", "x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(RESET_EPOCH_SECONDS),
        ...(state.limit.retryAfterSeconds !== undefined ? { "retry-after": String(state.limit.retryAfterSeconds) } : {}),
      };
      return send(response, state.limit.status ?? 403, headers, JSON.stringify({ message: "API rate limit exceeded for 127.0.0.1." }));
    }
    const authorized = request.headers.authorization === `Bearer ${TOKEN}`;
    const path = new URL(request.url ?? "/", "http://x").pathname;
    const match = path.startsWith(`${apiPath}/`) ? /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path.slice(apiPath.length)) : null;
    const repoName = match ? `${match[1]}/${match[2]}` : "";
    const repo = state.repos.get(repoName);
    if (!match || !repo || (repo.private && !authorized)) return json(response, 404, { message: "Not Found" });
    const rest = match[3] ?? "";
    const assetJson = (release: StandInRelease, asset: StandInAsset) => {
      const id = idOf(repoName, asset);
      return {
        id, name: asset.name, size: asset.body.length, content_type: "application/octet-stream",
        digest: asset.digest ? `sha256:${sha256(asset.body)}` : null,
        url: `${apiUrl}/repos/${repoName}/releases/assets/${id}`,
        browser_download_url: `${downloadsUrl}/${repoName}/releases/download/${release.tag}/${asset.name}`,
      };
    };
    const releaseJson = (release: StandInRelease) => ({ tag_name: release.tag, prerelease: release.prerelease ?? false, draft: false, assets: release.assets.map((asset) => assetJson(release, asset)) });
    if (rest === "") return json(response, 200, { full_name: repoName, private: repo.private ?? false });
    if (rest === "/releases/latest") {
      const latest = repo.releases.filter((release) => !release.prerelease).at(-1);
      return latest ? json(response, 200, releaseJson(latest)) : json(response, 404, { message: "Not Found" });
    }
    const tag = /^\/releases\/tags\/(.+)$/.exec(rest);
    if (tag) {
      const release = repo.releases.find((each) => each.tag === decodeURIComponent(tag[1]!));
      return release ? json(response, 200, releaseJson(release)) : json(response, 404, { message: "Not Found" });
    }
    const assetId = /^\/releases\/assets\/(\d+)$/.exec(rest);
    const found = assetId ? [...ids.values()].find((each) => each.id === Number(assetId[1]) && each.repo === repoName) : undefined;
    if (found) {
      if (request.headers.accept !== "application/octet-stream") return json(response, 200, { id: found.id, name: found.asset.name });
      const address = `/signed/${randomBytes(8).toString("hex")}/${found.asset.name}`;
      signed.set(address, found.asset.body);
      return send(response, 302, { location: `${downloadsUrl}${address}?X-Amz-Signature=${randomBytes(8).toString("hex")}` }, "");
    }
    json(response, 404, { message: "Not Found" });
  });
  const apiUrl = `${api.url}${apiPath}`;
  const downloadsUrl = downloads.url;

  return {
    api: apiUrl,
    downloads: downloadsUrl,
    repos: state.repos,
    apiRequests,
    downloadRequests,
    bytesServed: () => state.bytes,
    rateLimit: (limit) => (state.limit = { ...limit }),
    close: async () => {
      await Promise.all([api.close(), downloads.close()]);
    },
  };
}

/** goreleaser's asset list for `project` at `version`: every platform, packages, checksums.txt, signature, SBOM. */
export function goreleaserAssets(project: string, version: string, linuxAmd64: Buffer, options: { checksums?: "file" | "lying" | "none"; digest?: boolean; arch?: string } = {}): StandInAsset[] {
  const filler = (name: string) => Buffer.from(`${name} is not for this dyno\n`);
  const own = `${project}_${version}_linux_${options.arch ?? "amd64"}.tar.gz`;
  const names = ["darwin_amd64.tar.gz", "darwin_arm64.tar.gz", "linux_386.tar.gz", "linux_amd64.tar.gz", "linux_arm64.tar.gz", "windows_amd64.zip", "linux_amd64.deb", "linux_amd64.rpm", "linux_amd64.apk"]
    .map((suffix) => `${project}_${version}_${suffix}`);
  const assets: StandInAsset[] = names.map((name) => ({ name, body: name === own ? linuxAmd64 : filler(name), digest: options.digest ?? false }));
  assets.push({ name: `${project}_${version}_linux_amd64.tar.gz.sbom.json`, body: Buffer.from('{"spdxVersion":"SPDX-2.3"}\n') });
  const checksums = options.checksums ?? "file";
  if (checksums !== "none") {
    const lines = assets.map((asset) => {
      const digest = checksums === "lying" && asset.name === own ? sha256(Buffer.from("something else")) : sha256(asset.body);
      return `${digest}  ${asset.name}\n`;
    });
    assets.push({ name: "checksums.txt", body: Buffer.from(lines.join("")) });
    assets.push({ name: "checksums.txt.sig", body: Buffer.from("-----BEGIN PGP SIGNATURE-----\n") });
    assets.push({ name: "checksums.txt.pem", body: Buffer.from("-----BEGIN CERTIFICATE-----\n") });
  }
  return assets;
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string): void {
  response.writeHead(status, { "content-length": String(Buffer.byteLength(body)), ...headers });
  response.end(body);
}

function json(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, { "content-type": "application/json; charset=utf-8" }, JSON.stringify(value));
}

async function listen(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
