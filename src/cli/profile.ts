/**
 * The profile step, run by `.profile.d/execpack.sh` (launchers/execpack-profile) once per dyno start
 * (boot/profile.ts): writes the record at the path given as its argument, which the shell reads with
 * `mapfile -d ''` (never evaluated), and prints warnings on stderr. Exits 0 when the record was written.
 */
import { writeSync } from "node:fs";
import { profile } from "../boot/profile.js";
import { runMain } from "../common/main.js";
import { appDirOf, installedSlugPaths, slugPaths } from "../install/slug.js";

void runMain(() => {
  const paths = installedSlugPaths(import.meta.url) ?? slugPaths(appDirOf(import.meta.url));
  const { warnings, written } = profile(paths, process.env, process.argv[2] ?? "");
  for (const warning of warnings) writeSync(2, `${warning}\n`);
  return written ? 0 : 1;
});
