/**
 * The profile step under a Cloud Native Buildpack launcher (Heroku Fir), run by the execpack layer's
 * `exec.d/execpack` (launchers/execpack-exec-d) before every process: writes the record at the path given as its
 * argument, prints the exec.d TOML (boot/exec-d.ts) on stdout, which the script hands to the launcher's fd 3
 * only when this exits 0, and warnings on stderr, one line each.
 */
import { writeSync } from "node:fs";
import { execDToml } from "../boot/exec-d.js";
import { profile } from "../boot/profile.js";
import { runMain } from "../common/main.js";
import { appDirOf, installedSlugPaths, slugPaths } from "../install/slug.js";

void runMain(() => {
  const recordPath = process.argv[2] ?? "";
  const paths = installedSlugPaths(import.meta.url) ?? slugPaths(appDirOf(import.meta.url));
  const { warnings, record, written } = profile(paths, process.env, recordPath);
  for (const warning of warnings) writeSync(2, `${warning}\n`);
  writeSync(1, execDToml(record, recordPath, written));
  return 0;
});
