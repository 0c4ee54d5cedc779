/** Watching a dyno started by startDyno: its output so far, its exit, and the probe's "ready" line. */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

export interface WatchedDyno {
  exited: Promise<[number | null, string | null]>;
  /** Resolves when the probe printed "ready" or the dyno exited, whichever comes first. */
  readyOrExited: Promise<void>;
  output(): { stdout: string; stderr: string };
}

export function watchDyno(dyno: ChildProcess): WatchedDyno {
  let stdout = "";
  let stderr = "";
  dyno.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  dyno.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = once(dyno, "exit") as Promise<[number | null, string | null]>;
  const ready = new Promise<void>((resolve) => {
    dyno.stdout!.on("data", () => stdout.includes("ready") && resolve());
  });
  return { exited, readyOrExited: Promise.race([ready, exited]).then(() => undefined), output: () => ({ stdout, stderr }) };
}
