/**
 * BINARY_URL as the name of a GitHub release rather than the address of one file: a release page
 * (`https://github.com/OWNER/REPO/releases/latest`, `.../releases/tag/TAG`), the repository itself
 * (`https://github.com/OWNER/REPO`, meaning its latest release), or the shorthand `github:OWNER/REPO[@TAG]`.
 * Every other URL keeps its meaning: the file to download. BINARY_GITHUB_API_URL says where the API is
 * (https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server, whose pages on HOST then name
 * releases too). Pure: nothing here touches the network.
 */
import { isLoopbackHost, quote } from "./url-policy.js";
import { ExecpackError } from "../common/errors.js";
import { displayUrl } from "../common/secrets.js";

export const DEFAULT_GITHUB_API_URL = "https://api.github.com";

export interface ReleaseName {
  owner: string;
  repo: string;
  /** The release's tag; undefined for the latest release (GitHub's "latest": no draft, no prerelease). */
  tag: string | undefined;
  /** The API base, without a trailing slash. */
  api: URL;
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

/** The release BINARY_URL names, or undefined when it is the address of a file. */
export function parseReleaseName(binaryUrl: string, githubApiUrl: string | undefined): ReleaseName | undefined {
  const raw = binaryUrl.trim();
  const api = parseApiUrl(githubApiUrl);
  if (/^github:/i.test(raw)) return parseShorthand(raw, api);
  if (!URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  if (!["https:", "http:"].includes(url.protocol) || !webHosts(api).includes(url.hostname.toLowerCase())) return undefined;
  const segments = url.pathname.split("/").filter((segment) => segment !== "").map(decodeSegment);
  const [owner, repo, releases, kind, ...tag] = segments;
  if (owner === undefined || repo === undefined || !OWNER.test(owner)) return undefined;
  const name = { owner, repo: repo.replace(/\.git$/, ""), api };
  if (!REPO.test(name.repo)) return undefined;
  if (releases === undefined) return { ...name, tag: undefined };
  if (releases !== "releases") return undefined;
  if (kind === undefined || (kind === "latest" && tag.length === 0)) return { ...name, tag: undefined };
  if (kind === "tag" && tag.length > 0) return { ...name, tag: tag.join("/") };
  return undefined; // .../releases/download/TAG/FILE and the like: a file, as before
}

/** `acme/widget latest` or `acme/widget v1.2.0`, as the build log says it. */
export function describeRelease(name: ReleaseName): string {
  return `${name.owner}/${name.repo} ${name.tag ?? "latest"}`;
}

/** The pages of github.com name releases; on GitHub Enterprise Server (https://HOST/api/v3), those of HOST. */
function webHosts(api: URL): string[] {
  if (api.hostname === "api.github.com") return ["github.com", "www.github.com"];
  return /^\/api\/v3\/?$/.test(api.pathname) ? ["github.com", "www.github.com", api.hostname.toLowerCase()] : ["github.com", "www.github.com"];
}

function parseShorthand(raw: string, api: URL): ReleaseName {
  const match = /^github:([^/@\s]+)\/([^/@\s]+)(?:@(\S+))?$/i.exec(raw);
  const owner = match?.[1];
  const repo = match?.[2]?.replace(/\.git$/, "");
  if (!owner || !repo || !OWNER.test(owner) || !REPO.test(repo)) {
    throw new ExecpackError("release.invalid-name", "BINARY_URL is not a release name of the form github:OWNER/REPO[@TAG]", {
      seen: [`BINARY_URL: ${quote(raw)}`],
      hint: "Name the repository and, optionally, the tag: github:acme/widget for the latest release, github:acme/widget@v1.2.0 for one release.",
    });
  }
  const tag = match?.[3];
  return { owner, repo, tag: tag === undefined || tag === "latest" ? undefined : tag, api };
}

/** BINARY_GITHUB_API_URL: https, or http on loopback only (a stand-in for tests and local trials). */
export function parseApiUrl(raw: string | undefined): URL {
  const text = raw?.trim() || DEFAULT_GITHUB_API_URL;
  const seen = [`BINARY_GITHUB_API_URL: ${quote(displayUrl(text))}`];
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || !["https:", "http:"].includes(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new ExecpackError("config.invalid-github-api-url", "BINARY_GITHUB_API_URL is not the https:// address of a GitHub API", {
      seen, hint: `Unset it for ${DEFAULT_GITHUB_API_URL}, or set the API of your GitHub Enterprise Server: https://HOST/api/v3 (put tokens in BINARY_TOKEN, not in the URL).`,
    });
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw new ExecpackError("config.invalid-github-api-url", "BINARY_GITHUB_API_URL must use https:// (plain http:// only on loopback)", {
      seen, hint: "Anyone on the path could answer for the API and name another file: use the https:// address of the API.",
    });
  }
  url.pathname = url.pathname.replace(/\/+$/, "");
  return url;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a stray "%" in a page URL: compare it as written
  }
}
