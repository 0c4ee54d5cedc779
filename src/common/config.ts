/**
 * The buildpack's own config vars (BINARY_URL, BINARY_SHA256, BINARY_NAME, BINARY_FETCH, BINARY_TOKEN,
 * BINARY_ALLOW_HTTP, BINARY_ASSET, BINARY_GITHUB_API_URL), read from Heroku's ENV_DIR at build time or from the environment at boot, and
 * validated before anything is downloaded.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ExecpackError } from "./errors.js";
import { maskUrl } from "./secrets.js";

export interface BinarySettings {
  url: string;
  sha256: string | undefined;
  name: string | undefined;
  /** BINARY_ASSET: a glob choosing the asset of a release named in BINARY_URL (fetch/choose-asset.ts). */
  asset: string | undefined;
  /** BINARY_GITHUB_API_URL: where release names are resolved (default https://api.github.com). */
  githubApiUrl: string | undefined;
  fetch: "build" | "boot";
  token: string | undefined;
  allowInsecureHttp: boolean;
  /** BINARY_CONNECT_TIMEOUT, BINARY_HEADERS_TIMEOUT, BINARY_BODY_TIMEOUT (seconds); unset means the defaults. */
  timeouts: { connectMs?: number; headersMs?: number; bodyMs?: number };
  /**
   * BINARY_DOWNLOAD_TIMEOUT: how long the build's download may take in all, retries included (default 600 s,
   * well under Heroku's 15-minute compile limit), in ms: a server trickling a byte at a time never trips the
   * idle timeouts, and would otherwise hold the build until Heroku kills it with no word of why.
   */
  downloadTimeoutMs: number;
  /** BINARY_MAX_SIZE (uncompressed bytes, K/M/G suffixes) and BINARY_MAX_ENTRIES: the archive-bomb bounds. */
  limits: { maxTotalBytes?: number; maxEntries?: number };
}

export const DEFAULT_DOWNLOAD_TIMEOUT_SECONDS = 600;

type ConfigVars = Readonly<Record<string, string | undefined>>;

/** Config vars at build time: one file per variable in ENV_DIR, its content the value. */
export function readEnvDir(envDir: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let names: string[];
  try {
    names = readdirSync(envDir);
  } catch {
    return vars; // Heroku always passes ENV_DIR; a missing one (local runs) just means no config vars.
  }
  for (const name of names) {
    const file = join(envDir, name);
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && statSync(file).isFile()) vars[name] = readFileSync(file, "utf8");
  }
  return vars;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function missingBinaryUrl(): never {
  throw new ExecpackError("config.missing-binary-url", "BINARY_URL is not set", {
    hint: "Tell execpack where the release is, then build again:\n  heroku config:set BINARY_URL=https://github.com/OWNER/REPO/releases/download/v1.0.0/app_linux_amd64.tar.gz",
  });
}

export function readBinarySettings(vars: ConfigVars): BinarySettings {
  const url = nonEmpty(vars.BINARY_URL);
  if (!url) missingBinaryUrl();
  return {
    url,
    sha256: readSha256(vars.BINARY_SHA256),
    name: nonEmpty(vars.BINARY_NAME),
    asset: nonEmpty(vars.BINARY_ASSET),
    githubApiUrl: nonEmpty(vars.BINARY_GITHUB_API_URL),
    fetch: readFetchMode(vars.BINARY_FETCH),
    token: nonEmpty(vars.BINARY_TOKEN),
    allowInsecureHttp: ["1", "true", "yes"].includes(nonEmpty(vars.BINARY_ALLOW_HTTP)?.toLowerCase() ?? ""),
    timeouts: {
      connectMs: readSeconds(vars, "BINARY_CONNECT_TIMEOUT"),
      headersMs: readSeconds(vars, "BINARY_HEADERS_TIMEOUT"),
      bodyMs: readSeconds(vars, "BINARY_BODY_TIMEOUT"),
    },
    downloadTimeoutMs: readSeconds(vars, "BINARY_DOWNLOAD_TIMEOUT") ?? DEFAULT_DOWNLOAD_TIMEOUT_SECONDS * 1000,
    limits: {
      maxTotalBytes: readQuantity(vars, "BINARY_MAX_SIZE", true),
      maxEntries: readQuantity(vars, "BINARY_MAX_ENTRIES", false),
    },
  };
}

function invalidNumber(name: string, value: string, expected: string): ExecpackError {
  return new ExecpackError("config.invalid-number", `${name} must be ${expected}`, {
    seen: [`${name}="${maskUrl(value)}"`],
    hint: `Unset it to use the default (see the README's config var table), or set a valid value: heroku config:set ${name}=...`,
  });
}

/** A duration in seconds, returned in milliseconds. */
function readSeconds(vars: ConfigVars, name: string): number | undefined {
  const value = nonEmpty(vars[name]);
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0) throw invalidNumber(name, value, "a positive number of seconds");
  return seconds * 1000;
}

const SIZE_SUFFIXES: Readonly<Record<string, number>> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** A positive whole number; with `sizes`, a K, M or G suffix (binary multiples) is accepted. */
function readQuantity(vars: ConfigVars, name: string, sizes: boolean): number | undefined {
  const value = nonEmpty(vars[name]);
  if (value === undefined) return undefined;
  const match = (sizes ? /^(\d+)([KMG]?)i?B?$/i : /^(\d+)()$/).exec(value);
  const quantity = match ? Number(match[1]) * (SIZE_SUFFIXES[(match[2] ?? "").toUpperCase()] ?? 1) : 0;
  if (!match || quantity <= 0) throw invalidNumber(name, value, sizes ? "a size such as 4G, 800M or 1073741824" : "a positive whole number");
  return quantity;
}

function readSha256(value: string | undefined): string | undefined {
  const sha256 = nonEmpty(value)?.toLowerCase().replace(/^sha256:/, "");
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ExecpackError("config.invalid-sha256", "BINARY_SHA256 is not a SHA-256 checksum", {
      seen: [`BINARY_SHA256 has ${sha256.length} characters; expected 64 hexadecimal digits`],
      hint: "Copy the checksum of the release file from the project's checksums file, or compute it with: sha256sum FILE",
    });
  }
  return sha256;
}

export const DEFAULT_BOOT_FETCH_TIMEOUT_SECONDS = 30;

/** BINARY_FETCH_TIMEOUT, read at boot: the boot-time download must leave the binary time to bind $PORT. */
export function readBootFetchTimeoutSeconds(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return DEFAULT_BOOT_FETCH_TIMEOUT_SECONDS;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 55) {
    throw new ExecpackError("config.invalid-fetch-timeout", "BINARY_FETCH_TIMEOUT must be a number of seconds between 1 and 55", {
      seen: [`BINARY_FETCH_TIMEOUT="${value}"`],
      hint: "Heroku stops a web dyno that has not bound $PORT after 60 seconds; leave the binary time to start.",
    });
  }
  return seconds;
}

/**
 * Every problem of the BINARY_* settings, not only the first: `execpackctl check` lists them all in one run,
 * where the build and the boot stop at the first (readBinarySettings).
 */
export function binarySettingsProblems(vars: ConfigVars): ExecpackError[] {
  const checks: Array<() => unknown> = [
    () => nonEmpty(vars.BINARY_URL) ?? missingBinaryUrl(),
    () => readSha256(vars.BINARY_SHA256),
    () => readFetchMode(vars.BINARY_FETCH),
    () => readBootFetchTimeoutSeconds(vars.BINARY_FETCH_TIMEOUT),
    ...SECONDS_SETTINGS.map((name) => () => readSeconds(vars, name)),
    () => readQuantity(vars, "BINARY_MAX_SIZE", true),
    () => readQuantity(vars, "BINARY_MAX_ENTRIES", false),
  ];
  return checks.flatMap((check) => {
    try {
      check();
      return [];
    } catch (error) {
      if (error instanceof ExecpackError) return [error];
      throw error;
    }
  });
}

const SECONDS_SETTINGS = ["BINARY_CONNECT_TIMEOUT", "BINARY_HEADERS_TIMEOUT", "BINARY_BODY_TIMEOUT", "BINARY_DOWNLOAD_TIMEOUT"] as const;

function readFetchMode(value: string | undefined): "build" | "boot" {
  const mode = nonEmpty(value)?.toLowerCase() ?? "build";
  if (mode !== "build" && mode !== "boot") {
    throw new ExecpackError("config.invalid-fetch", "BINARY_FETCH must be 'build' or 'boot'", {
      seen: [`BINARY_FETCH="${maskUrl(mode)}"`],
      hint: "Unset it to download while the slug compiles (the default), or set BINARY_FETCH=boot to download at every dyno start.",
    });
  }
  return mode;
}

/** What `bin/test` (Heroku CI, through `execpackctl smoke`) reads beside the BINARY_* settings. */
export interface SmokeTestSettings {
  /** BINARY_TEST_COMMAND: a command line that must exit 0, for an app without `web` (or in addition to it). */
  command: string | undefined;
  /** BINARY_TEST_TIMEOUT: how long `web` has to bind $PORT (default 60 s, Heroku's boot timeout), in ms. */
  portTimeoutMs: number;
}

export const DEFAULT_TEST_TIMEOUT_SECONDS = 60;

export function readSmokeTestSettings(vars: ConfigVars): SmokeTestSettings {
  return {
    command: nonEmpty(vars.BINARY_TEST_COMMAND),
    portTimeoutMs: readSeconds(vars, "BINARY_TEST_TIMEOUT") ?? DEFAULT_TEST_TIMEOUT_SECONDS * 1000,
  };
}
