/**
 * The plan of the profile step's shell path (launchers/execpack-profile-step): what the profile step works out
 * from the slug alone, written once at build time, so that a dyno start with ordinary add-on URLs resolves in
 * the dyno's own bash, without starting Node.js at all. It holds no value of any config var: only the install's
 * layout and binary.env's lines, read by the same parser the boot uses (environment.ts, planBinaryEnv).
 *
 * NUL-terminated fields, read with `mapfile -d ''`; paths relative to the install root, which the shell knows:
 *
 *   execpack-profile-plan/2
 *   <main program>  <BINARY_HOME>  <binary.env, from the root>
 *   <n> then n × library folder                     the release's own, first on LD_LIBRARY_PATH
 *   <n> then n × (name, program)                    the release's commands
 *   none | plan | node                              no binary.env; the lines below; only Node.js can apply it
 *   <binary.env's text>                             for "plan": the file the lines were read from, byte for byte
 *   <n> then n × (NAME, <k>, k × piece)             a piece: T<text>, R<name>, or O<operator><name>=<word>
 *
 * The shell path checks binary.env still holds that text (an edit on the dyno goes to Node.js, whatever its
 * modification time), and leaves anything it does not hold (a URL it
 * cannot split exactly as connection-url.ts does, a `${NAME:?}` with NAME missing...) to the Node.js step.
 */
import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { planBinaryEnv } from "../environment/environment.js";
import type { LineProblem, Piece } from "../environment/environment.js";
import { binaryPath, readManifest } from "../install/slug.js";
import type { SlugPaths } from "../install/slug.js";
import { BINARY_ENV_FILE, readBinaryEnv, releaseRoot } from "./dyno.js";

export const PLAN_FILE = "profile-plan";
const MAGIC = "execpack-profile-plan/2";

function piece(part: Piece): string {
  if (part.kind === "text") return `T${part.text}`;
  if (part.kind === "ref") return `R${part.name}`;
  return `O${part.operator}${part.name}=${part.word}`;
}

/** The plan's text, and binary.env's syntax errors (read in the same pass) for the build log. */
export function formatPlan(paths: SlugPaths): { text: string; problems: LineProblem[] } {
  const manifest = readManifest(paths);
  const main = binaryPath(paths, manifest);
  const home = releaseRoot(main, manifest);
  const fromRoot = (path: string): string => relative(paths.root, path);
  const binaryEnv = readBinaryEnv(paths.appDir);
  const { lines, problems } = binaryEnv === undefined ? { lines: [], problems: [] } : planBinaryEnv(binaryEnv.text, binaryEnv.path);
  const libraries = (manifest.libraryPath ?? []).map((folder) => fromRoot(join(home, folder)));
  const commands = Object.entries(manifest.commands ?? {}).flatMap(([name, path]) => [name, fromRoot(join(home, path))]);
  const fields = [
    MAGIC,
    fromRoot(main),
    fromRoot(home),
    fromRoot(join(paths.appDir, BINARY_ENV_FILE)),
    String(libraries.length),
    ...libraries,
    String(commands.length / 2),
    ...commands,
    binaryEnv === undefined ? "none" : lines === undefined ? "node" : "plan",
    ...(binaryEnv !== undefined && lines !== undefined ? [binaryEnv.text] : []),
    String(lines?.length ?? 0),
    ...(lines ?? []).flatMap(({ name, pieces }) => [name, String(pieces.length), ...pieces.map(piece)]),
  ];
  return { text: `${fields.join("\0")}\0`, problems };
}

/**
 * Written at build time (lib/slug.sh, warm_profile); a failure only leaves every boot to the Node.js step.
 * Returns binary.env's syntax errors, which the build prints as warnings.
 */
export function writePlan(paths: SlugPaths): LineProblem[] {
  const { text, problems } = formatPlan(paths);
  writeFileSync(join(paths.root, PLAN_FILE), text, { mode: 0o644 });
  return problems;
}
