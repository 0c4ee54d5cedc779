/**
 * The TypeScript half of bin/build (Cloud Native Buildpacks, Heroku Fir): reads the config vars from the
 * platform's env/ directory, then downloads the release, installs it into the binary layer, and gives each of
 * its programs a command launcher in the execpack layer (the install root, whose env/ puts them on PATH).
 * Node.js, the bootstrapper and every layer's metadata are bin/build's (lib/cnb.sh).
 * Usage: node build.cjs <app-dir> <env-dir> <binary-layer-dir> <download-cache-dir> <execpack-layer-dir>
 */
import { readBinarySettings, readEnvDir } from "../common/config.js";
import { installRelease } from "../install/install.js";
import { runMain } from "../common/main.js";
import { detail, step } from "../common/output.js";
import { slugPaths } from "../install/slug.js";
import { writeCommandLaunchers } from "../install/commands.js";
import { dynoArchitecture, useTargetArchitecture } from "../archive/elf.js";

void runMain(async () => {
  const [appDir, envDir, binaryLayer, cacheDir, execpackLayer] = process.argv.slice(2);
  if (!appDir || !envDir || !binaryLayer || !cacheDir || !execpackLayer) {
    throw new Error("usage: build.cjs <app-dir> <env-dir> <binary-layer-dir> <download-cache-dir> <execpack-layer-dir>");
  }
  const settings = readBinarySettings(readEnvDir(envDir));
  // The image's architecture (CNB_TARGET_ARCH, from the lifecycle) chooses the binary of a multi-arch release.
  const here = dynoArchitecture();
  useTargetArchitecture(process.env.CNB_TARGET_ARCH);
  const target = dynoArchitecture();
  step("Installing the release binary");
  if (target !== here) detail(`Building for ${target} on ${here}: the ${target} binary of the release is installed`);
  // The binary layer holds the binary/ and binary.json slice of the install root; the execpack layer links it in.
  const deadline = Date.now() + settings.downloadTimeoutMs; // BINARY_DOWNLOAD_TIMEOUT, as in bin/compile
  // Whether the binary can start is checked on this machine only when it is the target's architecture.
  const manifest = await installRelease({ settings, paths: slugPaths(appDir, binaryLayer), cacheDir, checkRunnable: target === here, deadline });
  writeCommandLaunchers(slugPaths(appDir, execpackLayer), manifest);
});
