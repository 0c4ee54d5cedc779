/**
 * The TypeScript half of bin/build (Cloud Native Buildpacks, Heroku Fir): reads the config vars from the
 * platform's env/ directory, then downloads the release and installs its binary into the binary layer.
 * Node.js, the bootstrapper and every layer's metadata are bin/build's (lib/cnb.sh).
 * Usage: node build.cjs <app-dir> <env-dir> <binary-layer-dir> <download-cache-dir>
 */
import { readBinarySettings, readEnvDir } from "../common/config.js";
import { installRelease } from "../install/install.js";
import { runMain } from "../common/main.js";
import { step } from "../common/output.js";
import { slugPaths } from "../install/slug.js";

void runMain(async () => {
  const [appDir, envDir, binaryLayer, cacheDir] = process.argv.slice(2);
  if (!appDir || !envDir || !binaryLayer || !cacheDir) {
    throw new Error("usage: build.cjs <app-dir> <env-dir> <binary-layer-dir> <download-cache-dir>");
  }
  const settings = readBinarySettings(readEnvDir(envDir));
  step("Installing the release binary");
  // The binary layer holds the binary/ and binary.json slice of the install root; the execpack layer links it in.
  const deadline = Date.now() + settings.downloadTimeoutMs; // BINARY_DOWNLOAD_TIMEOUT, as in bin/compile
  await installRelease({ settings, paths: slugPaths(appDir, binaryLayer), cacheDir, checkRunnable: true, deadline });
});
