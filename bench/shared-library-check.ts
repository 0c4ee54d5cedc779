/**
 * What telling a shared library from a PIE program costs the install (archive/release.ts reads every runnable
 * file's program headers again, written, before choosing): a release of N PIE programs and N libraries not
 * named .so, built by this machine's `cc`, extracted from a tar.gz with `BINARY_NAME` set. Prints the medians
 * of the check over all 2N files alone and of the whole extraction, and the check's share of it.
 * Run: npx tsx bench/shared-library-check.ts [RUNS] [N]    (RUNS defaults to 7, N to 1000)
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extractRelease } from "../src/archive/extract.js";
import { isSharedLibraryFile } from "../src/archive/runnable.js";
import { median } from "./release-fixture.js";

const RUNS = Number(process.argv[2] ?? 7);
const N = Number(process.argv[3] ?? 1000);

const work = mkdtempSync(join(tmpdir(), "execpack-bench-shared-"));
try {
  const source = join(work, "hello.c");
  writeFileSync(source, '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n');
  execFileSync("cc", ["-Os", "-fPIE", "-pie", "-o", join(work, "pie"), source]);
  execFileSync("cc", ["-Os", "-fPIC", "-shared", "-o", join(work, "library"), source]);
  const release = join(work, "release");
  mkdirSync(release);
  const files: string[] = [];
  for (let index = 0; index < N; index += 1) {
    for (const kind of ["pie", "library"]) {
      const path = join(release, `${kind}${index}`);
      copyFileSync(join(work, kind), path);
      files.push(path);
    }
  }
  const archive = join(work, "release.tar.gz");
  execFileSync("tar", ["-czf", archive, "-C", work, "release"]);

  const check: number[] = [];
  const extract: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    let start = performance.now();
    const libraries = files.filter((file) => isSharedLibraryFile(file)).length;
    check.push(performance.now() - start);
    if (libraries !== N) throw new Error(`${libraries} libraries found, ${N} expected`);
    const staging = join(work, `staging-${run}`);
    start = performance.now();
    await extractRelease({ archivePath: archive, staging, binaryName: "pie0" });
    extract.push(performance.now() - start);
    rmSync(staging, { recursive: true, force: true });
  }
  const [checkMs, extractMs] = [median(check), median(extract)];
  console.log(`| files | check, all files (median of ${RUNS}) | per file | whole extraction (median) | check / extraction |`);
  console.log("|---|---|---|---|---|");
  console.log(`| ${2 * N} | ${checkMs.toFixed(1)} ms | ${((checkMs / (2 * N)) * 1000).toFixed(1)} µs | ${extractMs.toFixed(0)} ms | ${((checkMs / extractMs) * 100).toFixed(1)} % |`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
