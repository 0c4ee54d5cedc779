/**
 * The TypeScript half of bin/compile: reads the config vars from ENV_DIR, then downloads the release and
 * installs its binary into the slug. Node.js and the bootstrapper are already in place (bin/compile).
 * Usage: node compile.js <build-dir> <cache-dir> <env-dir>
 */
import { join } from "node:path";
import { readBinarySettings, readEnvDir } from "../common/config.js";
import { installRelease } from "../install/install.js";
import { runMain } from "../common/main.js";
import { step } from "../common/output.js";
import { slugPaths } from "../install/slug.js";

void runMain(async () => {
  const [buildDir, cacheDir, envDir] = process.argv.slice(2);
  if (!buildDir || !cacheDir || !envDir) throw new Error("usage: compile.js <build-dir> <cache-dir> <env-dir>");
  const settings = readBinarySettings(readEnvDir(envDir));
  step("Installing the release binary");
  await installRelease({ settings, paths: slugPaths(buildDir), cacheDir: join(cacheDir, "execpack"), checkRunnable: true });
});
