/**
 * The TypeScript half of bin/compile: reads the config vars from ENV_DIR, then downloads the release and
 * installs it into the slug, gives each of its programs a command launcher, and says what the slug holds.
 * Node.js, the bootstrapper and the launchers are already in place (bin/compile).
 * Usage: node compile.js <build-dir> <cache-dir> <env-dir>
 */
import { join } from "node:path";
import { readBinarySettings, readEnvDir } from "../common/config.js";
import { installRelease } from "../install/install.js";
import { runMain } from "../common/main.js";
import { step } from "../common/output.js";
import { slugPaths } from "../install/slug.js";
import { describeSlug, writeCommandLaunchers } from "../install/commands.js";

void runMain(async () => {
  const [buildDir, cacheDir, envDir] = process.argv.slice(2);
  if (!buildDir || !cacheDir || !envDir) throw new Error("usage: compile.js <build-dir> <cache-dir> <env-dir>");
  const settings = readBinarySettings(readEnvDir(envDir));
  const paths = slugPaths(buildDir);
  step("Installing the release");
  const deadline = Date.now() + settings.downloadTimeoutMs;
  const manifest = await installRelease({ settings, paths, cacheDir: join(cacheDir, "execpack"), checkRunnable: true, deadline });
  writeCommandLaunchers(paths, manifest);
  step("The slug");
  describeSlug(paths, manifest);
});
