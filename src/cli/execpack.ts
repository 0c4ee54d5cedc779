/**
 * `execpack [ARGS...]`: the dyno's start command. Resolves the binary's environment and execs the binary
 * with ARGS untouched. The launcher (.execpack/bin/execpack) runs this command's bundle with the slug's Node.js.
 */
import { boot, dynoConfigVars } from "../boot/boot.js";
import { runMain } from "../common/main.js";
import { appDirOf, installedSlugPaths, slugPaths } from "../install/slug.js";

void runMain(() =>
  boot(installedSlugPaths(import.meta.url) ?? slugPaths(appDirOf(import.meta.url)), process.argv.slice(2), dynoConfigVars(process.env)),
);
