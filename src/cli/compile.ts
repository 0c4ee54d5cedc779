/**
 * The TypeScript half of bin/compile: reads the config vars from ENV_DIR, then downloads the release and
 * installs it into the slug, gives each of its programs a command launcher, and says what the slug holds.
 * Node.js, the bootstrapper and the launchers are already in place (bin/compile).
 * Usage: node compile.js <build-dir> <cache-dir> <env-dir> [<warnings-file>]
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readBinarySettings, readEnvDir } from "../common/config.js";
import { installRelease } from "../install/install.js";
import { runMain } from "../common/main.js";
import { step, warn, warningText } from "../common/output.js";
import { slugPaths } from "../install/slug.js";
import { describeSlug, writeCommandLaunchers } from "../install/commands.js";

void runMain(async () => {
  const [buildDir, cacheDir, envDir, warningsFile] = process.argv.slice(2);
  if (!buildDir || !cacheDir || !envDir) throw new Error("usage: compile.js <build-dir> <cache-dir> <env-dir>");
  const settings = readBinarySettings(readEnvDir(envDir));
  const paths = slugPaths(buildDir);
  step("Installing the release");
  const deadline = Date.now() + settings.downloadTimeoutMs;
  // The warnings are also written to <warnings-file>, for bin/compile to say again when a rebuild reuses this
  // install without running this step (lib/release_reuse.sh).
  const warnings: string[] = [];
  const keepWarning = (message: string) => {
    warn(message);
    warnings.push(warningText(message));
  };
  const manifest = await installRelease({ settings, paths, cacheDir: join(cacheDir, "execpack"), checkRunnable: true, deadline, warn: keepWarning });
  if (warningsFile) writeFileSync(warningsFile, warnings.join(""));
  writeCommandLaunchers(paths, manifest);
  step("The slug");
  describeSlug(paths, manifest);
});
