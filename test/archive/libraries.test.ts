/**
 * The library check resolves DT_NEEDED as the loader will: the program's RUNPATH/RPATH with $ORIGIN, the
 * release's library folders, the stack's. Programs and libraries are compiled here with `cc`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLibraries, debianPackageGuess, readDynamic } from "../../src/archive/libraries.js";

let dir: string;
const STACK = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/lib", "/usr/lib"];

/** A release: bin/with-origin (RUNPATH $ORIGIN/../private), bin/plain (needs libhi from lib/), bin/lost. */
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "execpack-libraries-"));
  const src = join(dir, "src");
  mkdirSync(src);
  writeFileSync(join(src, "hi.c"), "int hi(void) { return 7; }\n");
  writeFileSync(join(src, "main.c"), "int hi(void);\nint main(void) { return hi() == 7 ? 0 : 1; }\n");
  const release = join(dir, "release");
  for (const folder of ["bin", "lib", "private"]) mkdirSync(join(release, folder), { recursive: true });
  const cc = (...args: string[]) => execFileSync("cc", args, { cwd: src });
  cc("-shared", "-fPIC", "-o", "libhi.so.1", "hi.c", "-Wl,-soname,libhi.so.1");
  cc("-shared", "-fPIC", "-o", "libgone.so.3", "hi.c", "-Wl,-soname,libgone.so.3");
  cc("-shared", "-fPIC", "-o", "libhi9.so.2", "hi.c", "-Wl,-soname,libhi9.so.2");
  cc("-o", join(release, "bin/with-origin"), "main.c", "-L.", "-l:libhi9.so.2", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../private");
  cc("-o", join(release, "bin/plain"), "main.c", "-L.", "-l:libhi.so.1");
  cc("-o", join(release, "bin/lost"), "main.c", "-L.", "-l:libgone.so.3");
  execFileSync("cp", [join(src, "libhi9.so.2"), join(release, "private/")]);
  execFileSync("cp", [join(src, "libhi.so.1"), join(release, "lib/")]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("checkLibraries", () => {
  it("reads DT_NEEDED and DT_RUNPATH from a program", () => {
    expect(readDynamic(join(dir, "release/bin/with-origin"))).toMatchObject({ needed: ["libhi9.so.2", "libc.so.6"], runpath: ["$ORIGIN/../private"] });
  });

  it("finds libraries through $ORIGIN and the release's lib/, names the missing one and who needs it", () => {
    const check = checkLibraries(join(dir, "release"), ["bin/with-origin", "bin/plain", "bin/lost"], STACK);
    expect(check.libraryPath).toEqual(["lib"]); // private/ is reached through RUNPATH: the loader needs no help
    expect([...check.missing]).toEqual([["libgone.so.3", ["bin/lost"]]]);
  });

  it("runs the program with the folder it reported", () => {
    const run = (file: string, env: NodeJS.ProcessEnv) => execFileSync(join(dir, "release", file), { env }).length;
    expect(run("bin/with-origin", {})).toBe(0);
    expect(run("bin/plain", { LD_LIBRARY_PATH: join(dir, "release/lib") })).toBe(0);
  });

  it.each([
    ["liblzo2.so.2", "liblzo2-2"],
    ["libjq.so.1", "libjq1"],
    ["libldap-2.5.so.0", "libldap-2.5-0"],
    ["libssl.so.3", "libssl3"],
  ])("guesses Debian's package of %s: %s", (library, name) => {
    expect(debianPackageGuess(library)).toBe(name);
  });
});
