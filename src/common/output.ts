/**
 * Build and boot output in the shapes Heroku's own buildpacks use: `-----> Step` headers on stdout,
 * details indented seven spaces, warnings and errors on stderr behind ` !     `.
 * The build log is not a terminal: no colours, no carriage returns.
 */
import { writeSync } from "node:fs";
import type { ExecpackError } from "./errors.js";

const INDENT = "       ";
const ALERT = " !     ";

/**
 * Control characters a terminal would act on: C0 and DEL, C1 (0x9b is an 8-bit CSI), the line and paragraph
 * separators, and the bidirectional overrides that make text read in another order than it is.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * A name or value from outside (archive entries, URLs, server headers, file names) as it may be printed:
 * every control character written as an escape (`\n`, `\x1b`, `\u202e`), so a crafted name can neither
 * colour the build log, retitle a terminal, nor fake a line of output.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (char) => {
    const named = NAMED[char];
    if (named) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

export function hasControl(text: string): boolean {
  return text.search(CONTROL) !== -1;
}

/**
 * `value` as one word a POSIX shell takes literally, for a command in a hint (`heroku config:set NAME=...`):
 * single-quoted, with each single quote closed, escaped and reopened, so `$(...)`, backquotes and `$VAR`
 * stay text. A value holding control characters cannot be shown safely and pasted back; it gets undefined,
 * and the hint says why instead.
 */
export function shellWord(value: string): string | undefined {
  if (hasControl(value)) return undefined;
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** Everything but the line breaks and tabs of our own layout. */
const LAYOUT_SAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Text of many lines with every control character escaped but the line breaks and tabs of its own layout.
 * Our own text holds no escape sequence, carriage return or other control character, so any found here came
 * from outside, whichever message forgot to escape it: the last line of defence for what reaches a terminal.
 */
export function escapeLayout(text: string): string {
  return LAYOUT_SAFE.test(text) ? text.replace(new RegExp(LAYOUT_SAFE.source, "g"), (char) => escapeControl(char)) : text;
}

/** Writes synchronously so nothing is left in a buffer when the process execs or exits. */
function write(fd: 1 | 2, text: string): void {
  writeSync(fd, escapeLayout(text));
}

/** A step header and a detail are one line each: a line break inside (from a crafted name) is shown escaped. */
export function step(message: string): void {
  write(1, `-----> ${escapeControl(message)}\n`);
}

export function detail(message: string): void {
  write(1, `${INDENT}${escapeControl(message)}\n`);
}

export function warn(message: string): void {
  write(2, warningText(message));
}

/** A warning as `warn` prints it: every line behind ` !     `. */
export function warningText(message: string): string {
  return message.split("\n").map((line) => `${ALERT}${line}\n`).join("");
}

/** The whole user-facing text of an error, without the ` !     ` prefix. */
export function formatError(error: ExecpackError): string {
  const lines = [`${error.message} [${error.code}]`];
  for (const seen of error.seen) lines.push(`  ${seen}`);
  if (error.hint) lines.push("", error.hint);
  return lines.join("\n");
}

export function printError(error: ExecpackError): void {
  warn(formatError(error));
}

/** A size for people: "512 bytes", "16.7 KiB", "1.2 GiB". Every size execpack prints goes through here. */
/** `count` with its noun, singular or plural: "1 file", "3 files". */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  for (; value >= 1024 && unit < units.length - 1; unit++) value /= 1024;
  return `${value.toFixed(1)} ${units[unit]}`;
}
