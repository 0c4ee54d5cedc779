/**
 * Disk errors, wherever a file is written (the download, the cache, the install): they stop the build at
 * once with their own code, where it happened and how much room was needed and left. Retrying cannot help,
 * and calling a full disk a network failure sends people to the wrong place.
 */
import { statfsSync } from "node:fs";
import { ExecpackError } from "./errors.js";
import { formatBytes } from "./output.js";

interface DiskProblem {
  code: string;
  summary: string;
  hint: string;
}

const SPACE_HINT =
  "Make room: a Heroku build has limited disk, and a slug may be at most 500 MB. A release that large needs " +
  "BINARY_FETCH=boot or a smaller asset; clear the build cache (heroku builds:cache:purge) if it is full of old files.";

const PROBLEMS: Readonly<Record<string, DiskProblem>> = {
  ENOSPC: { code: "install.disk-full", summary: "The disk is full", hint: SPACE_HINT },
  EDQUOT: { code: "install.disk-full", summary: "The disk quota is used up", hint: SPACE_HINT },
  EROFS: {
    code: "install.read-only",
    summary: "The file system is read-only",
    hint: "execpack writes into the build directory and the build cache only; a read-only one means the build runs somewhere unusual. Check where it runs.",
  },
  EACCES: {
    code: "install.permission-denied",
    summary: "Permission denied",
    hint: "The directory is not writable by the build's user: check its owner and mode (a file committed read-only, or a cache written by another user).",
  },
  EPERM: {
    code: "install.permission-denied",
    summary: "Operation not permitted",
    hint: "The directory is not writable by the build's user: check its owner and mode (a file committed read-only, or a cache written by another user).",
  },
};

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

export function isDiskError(error: unknown): boolean {
  return PROBLEMS[errnoCode(error) ?? ""] !== undefined;
}

function freeSpace(directory: string): number | undefined {
  try {
    const stats = statfsSync(directory);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined; // The directory itself may be what failed; the rest of the message still says enough.
  }
}

export interface DiskWhere {
  /** The directory written into: shown, and asked for its free space. */
  directory: string;
  /** What was being written, for the summary: "the download", "the release". */
  what: string;
  /** The size being written, when it is known. */
  needed?: number | undefined;
  /** `needed` is a lower bound (a release streamed from a tar, whose total no header declares). */
  atLeast?: boolean;
}

/**
 * The ExecpackError for a disk error while writing into `directory` (what was being written in `what`),
 * or undefined when `error` is something else.
 */
export function diskFailure(error: unknown, where: DiskWhere): ExecpackError | undefined {
  const code = errnoCode(error);
  const problem = PROBLEMS[code ?? ""];
  if (problem === undefined) return undefined;
  const free = problem.code === "install.disk-full" ? freeSpace(where.directory) : undefined;
  return new ExecpackError(problem.code, `${problem.summary}: could not write ${where.what}`, {
    seen: [
      `where: ${JSON.stringify(where.directory)}`,
      ...(where.needed === undefined ? [] : [`needed: ${where.atLeast ? "at least " : ""}${formatBytes(where.needed)}`]),
      ...(free === undefined ? [] : [`free: ${formatBytes(free)}`]),
      `error: ${code}`,
    ],
    hint: problem.hint,
    cause: error,
  });
}

/** Runs a file system step; a disk error in it becomes its ExecpackError (diskFailure), anything else goes on as it was. */
export function onDisk<T>(where: DiskWhere, step: () => T): T {
  try {
    return step();
  } catch (error) {
    throw diskFailure(error, where) ?? error;
  }
}
