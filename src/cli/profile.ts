/**
 * The profile step, run by `.profile.d/execpack.sh` (launchers/execpack-profile) once per dyno start
 * (boot/profile.ts): writes the record at the path given as its argument, which the shell reads with
 * `mapfile -d ''` (never evaluated), and prints warnings on stderr. Exits 0 when the record was written.
 * At build time (lib/slug.sh, warm_profile) `--write-plan` also writes the plan of the shell path
 * (boot/profile-plan.ts), which resolves most dyno starts without Node.js, and prints binary.env's syntax
 * errors on stdout, one line each, for the build log: every boot would stop on them.
 */
import { writeSync } from "node:fs";
import { profile } from "../boot/profile.js";
import { writePlan } from "../boot/profile-plan.js";
import { isExecpackError } from "../common/errors.js";
import { runMain } from "../common/main.js";
import { escapeControl } from "../common/output.js";
import { appDirOf, installedSlugPaths, slugPaths } from "../install/slug.js";

void runMain(() => {
  const paths = installedSlugPaths(import.meta.url) ?? slugPaths(appDirOf(import.meta.url));
  const { warnings, written } = profile(paths, process.env, process.argv[2] ?? "");
  for (const warning of warnings) writeSync(2, `${warning}\n`);
  if (process.argv.includes("--write-plan")) {
    try {
      for (const { error } of writePlan(paths)) writeSync(1, `${escapeControl(error.message)} [${error.code}]\n`);
    } catch (error) {
      // No plan (no install yet, an unreadable binary.env): every dyno start takes the Node.js step instead.
      if (!isExecpackError(error) && (error as NodeJS.ErrnoException).code === undefined) throw error;
    }
  }
  return written ? 0 : 1;
});
