/**
 * The profile step for Cloud Native Buildpacks (Heroku Fir), where no .profile.d runs: the execpack layer's
 * `exec.d/execpack` program (launchers/execpack-exec-d) runs the same step (profile.ts) before every process
 * the launcher starts, and hands the launcher what the step derived as TOML, one `NAME = "value"` line each
 * (buildpack API 0.5+: the launcher reads it from fd 3 and sets those variables for the process, a shell
 * process's command line included). The launcher parses it; no shell ever evaluates it.
 *
 * Besides the derived variables, EXECPACK_INTERNAL_PROFILE names the step's record, as launchers/execpack-profile
 * exports it on classic dynos: the `execpack` launcher then takes its fast path on Fir too, and the boot tells a
 * derived value from a config var (withoutProfileDerived).
 */
import { PROFILE_VARIABLE } from "./profile-record.js";
import type { ProfileRecord } from "./profile-record.js";

/** TOML's bare keys; the profile step derives only shell identifiers, which all are. */
const BARE_KEY = /^[A-Za-z0-9_-]+$/;
/** What a TOML basic string may not hold as it is: the quote, the backslash, and every control character. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f]/g;

/** A TOML basic string holding exactly `value`: `"` and `\` escaped, control characters as \uXXXX. */
export function tomlString(value: string): string {
  const escaped = value.replace(NEEDS_ESCAPE, (char) =>
    char === '"' || char === "\\" ? `\\${char}` : `\\u${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`,
  );
  return `"${escaped}"`;
}

/**
 * The exec.d output for a profile step's record: every derived variable, then the record's path when it was
 * written. A name TOML could not hold bare is left to execpack's own Node.js path, as the shell leaves it.
 */
export function execDToml(record: ProfileRecord, recordPath: string, written: boolean): string {
  const lines: string[] = [];
  for (const [name, value] of record.derived) if (BARE_KEY.test(name)) lines.push(`${name} = ${tomlString(value)}`);
  if (written) lines.push(`${PROFILE_VARIABLE} = ${tomlString(recordPath)}`);
  return lines.map((line) => `${line}\n`).join("");
}
