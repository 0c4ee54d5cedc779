/**
 * `execpackctl env` and `execpackctl check`: what the binary would get, and whether the app's configuration
 * holds together, computed by the same code the boot runs so that what they say is what a dyno does.
 */
import { binarySettingsProblems, readBinarySettings } from "../common/config.js";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { CONNECTION_SCHEMES, whyNotConnectionUrl } from "../environment/connection-url.js";
import { formatEnvironment, resolveEnvironment } from "../environment/environment.js";
import type { ResolvedEnvironment } from "../environment/environment.js";
import { counted, escapeLayout, formatError } from "../common/output.js";
import { BINARY_ENV_FILE, forTheProgram, readBinaryEnv } from "../boot/boot.js";
import { describeRelease, parseReleaseName } from "../fetch/release-name.js";
import { parseSourceUrl } from "../fetch/url-policy.js";
import type { InstallManifest } from "../install/slug.js";

type ConfigVars = Readonly<Record<string, string | undefined>>;

function resolve(appDir: string, configVars: ConfigVars, collectProblems = false): ResolvedEnvironment {
  return resolveEnvironment({ configVars, binaryEnv: readBinaryEnv(appDir), collectProblems });
}

/** The installed program `execpack` would run, for what the boot sets only for it. */
export interface InstalledProgram { file: string; home: string; libraryPath: readonly string[]; commandsDir: string }

/**
 * The environment in dotenv form, each line marked with its origin, secrets masked unless `reveal`. With the
 * installed program, also what the boot sets for it alone, as boot.ts does: PATH as a shell would run it (its
 * folder before the release's commands), LD_LIBRARY_PATH with the release's library folders, BINARY_HOME.
 */
export function showEnvironment(
  appDir: string,
  configVars: ConfigVars,
  options: { reveal: boolean; installed?: InstallManifest | undefined; program?: InstalledProgram | undefined },
): string {
  const release = installedRelease(options.installed);
  const resolved = resolve(appDir, configVars);
  if (options.program) setForTheProgram(resolved, options.program);
  // Every name and value is escaped where it is formatted; this catches whatever a message forgot.
  return escapeLayout(`${release ? `# installed: ${release}\n` : ""}${formatEnvironment(resolved, options)}`);
}

/** The boot's own additions (boot.ts, forTheProgram), each value it changes marked as execpack's. */
function setForTheProgram(resolved: ResolvedEnvironment, program: InstalledProgram): void {
  const { env } = forTheProgram(program.file, program.home, program.libraryPath, resolved.env, program.commandsDir);
  for (const [name, value] of Object.entries(env)) {
    if (resolved.env[name] === value) continue;
    resolved.env[name] = value;
    resolved.origins.set(name, { kind: "execpack" });
  }
}

/** What a release name resolved to when the slug was built: `acme/widget v1.2.0: widget_1.2.0_linux_amd64.tar.gz (...)`. */
function installedRelease(manifest: InstallManifest | undefined): string | undefined {
  const release = manifest?.release;
  if (!release) return undefined;
  const verified = release.verifiedBy ? `sha256 verified against ${release.verifiedBy}` : "the release publishes no checksum";
  return `${release.repository} ${release.tag}: ${release.asset} (${verified})`;
}

export interface CheckReport {
  ok: boolean;
  text: string;
}

function indent(text: string): string {
  return text.split("\n").map((line) => (line ? `       ${line}` : line)).join("\n");
}

/** Validates BINARY_* settings, binary.env and every add-on URL; every problem found, not just the first. */
export function checkApp(appDir: string, configVars: ConfigVars, installed?: InstallManifest): CheckReport {
  const problems: ExecpackError[] = [];
  const notes: string[] = [];
  const collect = (action: () => void) => {
    try {
      action();
    } catch (error) {
      if (!isExecpackError(error)) throw error;
      problems.push(error);
    }
  };

  const settingProblems = binarySettingsProblems(configVars);
  problems.push(...settingProblems);
  if (settingProblems.length === 0) collect(() => {
    const settings = readBinarySettings(configVars);
    notes.push(`BINARY_URL is set (fetch at ${settings.fetch}${settings.sha256 ? ", checksum pinned" : ""})`);
    const name = parseReleaseName(settings.url, settings.githubApiUrl);
    // The build's own parsing: a URL it would refuse (credentials that read as a host) fails here too, masked.
    if (!name) parseSourceUrl(settings.url);
    if (name) notes.push(`BINARY_URL names the GitHub release ${describeRelease(name)}${settings.asset ? `, asset ${JSON.stringify(settings.asset)}` : ""}`);
    else if (settings.asset) notes.push("BINARY_ASSET is ignored: it chooses among a release's assets, and BINARY_URL names one file");
  });
  const release = installedRelease(installed);
  if (release) notes.push(`installed: ${release}`);
  collect(() => {
    const resolved = resolve(appDir, configVars, true);
    // binary.env's problems in the order of its lines, then the URLs nothing references.
    const lineProblems = [
      ...resolved.problems,
      ...resolved.undefinedReferences.map((reference) => ({ line: reference.line, error: undefinedReference(reference.name, reference.line, resolved.env) })),
    ];
    // A broken URL that a line uses is reported with that line already.
    const reported = new Set(lineProblems.map((problem) => problem.error.cause));
    const warnings = resolved.warnings.filter((warning) => !reported.has(warning));
    problems.push(...lineProblems.sort((a, b) => a.line - b.line).map((problem) => problem.error), ...warnings);
    const fromFile = [...resolved.origins.values()].filter((origin) => origin.kind === "binary.env").length;
    const derived = [...resolved.origins.values()].filter((origin) => origin.kind === "derived").length;
    notes.push(`${BINARY_ENV_FILE}: ${counted(fromFile, "variable")} applied; ${counted(derived, "variable")} derived from add-on URLs`);
  });

  const lines = notes.map((note) => `ok     ${note}`);
  for (const problem of problems) lines.push(`FAIL   ${problem.code}`, indent(formatError(problem)));
  lines.push("", problems.length === 0 ? "All checks passed." : `${counted(problems.length, "problem")} found.`);
  // Problems quote names and values from outside (binary.env lines, URLs): no control character reaches the terminal.
  return { ok: problems.length === 0, text: escapeLayout(`${lines.join("\n")}\n`) };
}

/**
 * A name no variable has. When it is one an add-on URL would derive (DATABASE_HOST) and that URL is set but holds
 * no connection URL (a mistyped scheme, `postgress://`; no scheme at all), the URL is the thing to fix: say so,
 * naming its scheme only, never its value.
 */
function undefinedReference(name: string, line: number, env: Readonly<Record<string, string>>): ExecpackError {
  const summary = `${BINARY_ENV_FILE} line ${line} uses \${${name}}, which is not set anywhere`;
  const base = /^(.+)_(HOST|PORT|USER|PASSWORD|NAME|ADDRESS|SCHEME|HOSTS|TLS|DSN|JDBC_URL)$/.exec(name)?.[1];
  const url = [`${base}_URL`, `${base}_URI`].find((candidate) => base !== undefined && env[candidate] !== undefined);
  const why = url === undefined ? undefined : whyNotConnectionUrl(env[url] ?? "");
  if (url === undefined || why === undefined) {
    return new ExecpackError("env.undefined-reference", summary, {
      hint: `Set it (heroku config:set ${name}=…), give it a default with \${${name}:-default}, or make it required with \${${name}:?message}.`,
    });
  }
  return new ExecpackError("env.undefined-reference", `${summary}: ${url} is set, but derives nothing, because ${why}`, {
    seen: [`${url}: not a database, cache or broker URL`],
    hint: `Check ${url} with \`heroku config:get ${url}\`: it must start with ${CONNECTION_SCHEMES.map((scheme) => `${scheme}://`).join(", ")}.`,
  });
}
