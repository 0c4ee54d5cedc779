/**
 * Build and boot output in the shapes Heroku's own buildpacks use: `-----> Step` headers on stdout,
 * details indented seven spaces, warnings and errors on stderr behind ` !     `.
 * The build log is not a terminal: no colours, no carriage returns.
 */
import { writeSync } from "node:fs";
import type { ExecpackError } from "./errors.js";

const INDENT = "       ";
const ALERT = " !     ";

/** Writes synchronously so nothing is left in a buffer when the process execs or exits. */
function write(fd: 1 | 2, text: string): void {
  writeSync(fd, text);
}

export function step(message: string): void {
  write(1, `-----> ${message}\n`);
}

export function detail(message: string): void {
  write(1, `${INDENT}${message}\n`);
}

export function warn(message: string): void {
  write(2, message.split("\n").map((line) => `${ALERT}${line}\n`).join(""));
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
