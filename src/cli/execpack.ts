/**
 * `execpack [ARGS...]`: the dyno's start command. Resolves the binary's environment and execs the binary
 * with ARGS untouched. The launcher (.execpack/bin/execpack) runs this file with the slug's Node.js.
 */
import { fileURLToPath } from "node:url";
import { boot } from "../boot.js";
import { runMain } from "../main.js";
import { slugPaths } from "../slug.js";

// This file is .execpack/bootstrapper/src/cli/execpack.js: the app root is four levels up.
const appDir = fileURLToPath(new URL("../../../../", import.meta.url));

await runMain(() => boot(slugPaths(appDir), process.argv.slice(2), process.env));
