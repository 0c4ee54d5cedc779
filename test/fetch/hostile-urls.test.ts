/**
 * Credentials in every position of BINARY_URL, and BINARY_TOKEN, written the ways people get them wrong
 * (a raw "/", "?", "#", "@" or ":" inside): no message, log line or error shows any part of them, and no
 * DNS query is made for them. dns.lookup is intercepted in-process (undici connects through net, which
 * looks host names up with it) and answers ENOTFOUND, so nothing leaves the machine either way.
 */
import dns from "node:dns";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isExecpackError } from "../../src/common/errors.js";
import type { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { download } from "../../src/fetch/download.js";
import { githubApi } from "../../src/fetch/github-api.js";
import { hasStrayAt, parseSourceUrl } from "../../src/fetch/url-policy.js";

let work: string;
const lookups: string[] = [];
const realLookup = dns.lookup;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "execpack-hostile-urls-"));
  const fake = (host: string, options: unknown, callback?: (error: Error) => void) => {
    lookups.push(host);
    const done = (typeof options === "function" ? options : callback) as (error: Error) => void;
    process.nextTick(() => done(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND", hostname: host })));
  };
  (dns as { lookup: unknown }).lookup = fake;
});
afterAll(() => {
  (dns as { lookup: unknown }).lookup = realLookup;
  rmSync(work, { recursive: true, force: true });
});

/** Everything a failed download shows: its error as printed, and its log lines. */
async function failedDownloadText(url: string, token?: string): Promise<string> {
  const logs: string[] = [];
  try {
    await download({ url, token, destination: join(work, "out"), retries: 0, log: (line) => logs.push(line), timeouts: { connectMs: 2_000 } });
  } catch (error) {
    if (!isExecpackError(error)) throw error; // an internal error is a failure of this test too
    return [formatError(error), ...logs].join("\n");
  }
  throw new Error(`downloading ${url} did not fail`);
}

describe("a host name that does not resolve", () => {
  it("fails at once with download.network, not after retries", async () => {
    const logs: string[] = [];
    const before = lookups.length;
    const failure = await download({ url: "https://no-such-host.example.invalid/app.tar.gz", destination: join(work, "out"), retries: 3, log: (line) => logs.push(line) }).catch((error: unknown) => error);
    expect(isExecpackError(failure) && failure.code).toBe("download.network");
    expect(formatError(failure as ExecpackError)).toContain("host name does not resolve");
    expect(lookups.slice(before)).toEqual(["no-such-host.example.invalid"]);
    expect(logs.filter((line) => line.startsWith("Retrying"))).toEqual([]);
  });

  it("names the GitHub API and BINARY_GITHUB_API_URL, not BINARY_URL, when the API's host does not resolve", async () => {
    const api = githubApi({ api: new URL("https://api.no-such-host.example.invalid"), retries: 0 });
    const failure = await api.get("/repos/acme/widget/releases/latest").catch((error: unknown) => error).finally(() => api.close());
    expect(isExecpackError(failure) && failure.code).toBe("download.network");
    const text = formatError(failure as ExecpackError);
    expect(text).toContain("Could not download from the GitHub API: its host name does not resolve");
    expect(text).toContain("Check the host name in BINARY_GITHUB_API_URL");
    expect(text).not.toContain("BINARY_URL ");
  });
});

describe("hasStrayAt", () => {
  it.each([
    ["https://Ab3xTOKPART1/TOKPART2@host/x", true],
    ["https://user:pa/ss@host/x", true],
    ["https://user:?pw@host/x", true],
    ["https://u:p#w@host/x", true],
    ["https://tok\\en@host/x", true],
    ["https://cdn.example.com/files/me@corp.com/app.tar.gz", true], // an "@" in a path: written %40
    ["https://user:pass@host/x", false],
    ["https://host/@scope/pkg/-/pkg-1.0.0.tgz", false],
    ["https://host/x?email=a@b.example", false],
    ["https://host/x?a=1&mail=a@b", false],
    ["https://host/x", false],
  ])("%s: %s", (url, stray) => {
    expect(hasStrayAt(url)).toBe(stray);
  });

  it.each([
    "https://Ab3xTOKPART1/TOKPART2@host/x",
    // With a user, the token's first part reads as a port and the URL does not parse at all: still these words.
    "https://user:tokpart1/TOKPART2@127.0.0.1:18431/nope.tar.gz",
    "https://user:tokpart1?TOKPART2@127.0.0.1:18431/nope.tar.gz",
  ])("refuses %s before any lookup, as credentials to encode, showing it masked", (url) => {
    const error = (() => {
      try {
        parseSourceUrl(url);
      } catch (caught) {
        return caught;
      }
    })();
    expect(isExecpackError(error) && error.code).toBe("download.ambiguous-credentials");
    const text = formatError(error as never);
    expect(text).not.toMatch(/TOKPART/i);
    expect(text).toContain("BINARY_TOKEN");
    expect(text).toContain("%2F");
  });
});

describe("random credentials in every position", () => {
  /** Secret parts: runs of letters and digits long enough that finding one in the output means a leak. */
  const part = fc.stringMatching(/^[A-Za-z0-9]{6,10}$/);
  const separator = fc.constantFrom("/", "?", "#", "@", ":", "%2F", "%40", "/@", "");
  const credential = fc
    .tuple(fc.array(fc.tuple(part, separator), { minLength: 1, maxLength: 3 }), part)
    .map(([pairs, last]) => ({ text: pairs.map(([p, s]) => p + s).join("") + last, parts: [...pairs.map(([p]) => p), last] }));

  const positions: Array<[string, (secret: string) => { url: string; token?: string }]> = [
    ["as the user (a token)", (secret) => ({ url: `https://${secret}@release.invalid/app.tar.gz` })],
    ["as the password", (secret) => ({ url: `https://deploy:${secret}@release.invalid/app.tar.gz` })],
    ["as user and password", (secret) => ({ url: `https://${secret}:${secret}@release.invalid/app.tar.gz` })],
    ["in a token= query parameter", (secret) => ({ url: `https://release.invalid/app.tar.gz?token=${secret}` })],
    ["in BINARY_TOKEN", (secret) => ({ url: "https://release.invalid/app.tar.gz", token: secret })],
    ["as a loopback URL's password", (secret) => ({ url: `http://deploy:${secret}@127.0.0.1:9/app.tar.gz` })],
  ];

  it.each(positions)("never shows or looks up a credential %s", async (_, place) => {
    await fc.assert(
      fc.asyncProperty(credential, async ({ text, parts }) => {
        lookups.length = 0;
        const { url, token } = place(text);
        const shown = (await failedDownloadText(url, token)).toLowerCase();
        for (const secret of parts) {
          expect(shown).not.toContain(secret.toLowerCase());
          expect(lookups.join(" ").toLowerCase()).not.toContain(secret.toLowerCase());
        }
      }),
      { numRuns: 40 },
    );
  });
});
