/**
 * Entry names and link targets come from the archive: in every refusal that quotes one (an escaping path, a
 * link out of the release, a hard link to nothing, a path both folder and file, the list of entries), a line
 * break or a terminal escape inside it is shown escaped, so it can neither start a line of its own (a fake
 * ` !     ` line in the build log) nor act on the terminal.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractRelease } from "../../src/archive/extract.js";
import { ExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";
import { HOST_ARCHITECTURE, helloElf } from "../helpers/elf-binary.js";
import { file, tar } from "../helpers/release-archives.js";
import type { Entry } from "../helpers/release-archives.js";

const FAKE = "\n !     fake line\u001b[31m";
let work: string;
let count = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "execpack-hostile-names-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("a refusal quoting a hostile name", () => {
  it.each<[string, Entry[], string]>([
    ["an escaping path", [file(`release/../x${FAKE}`, "x")], "archive.unsafe-entry"],
    ["a symlink out of the release", [file("release/app", helloElf()), { path: `release/link${FAKE}`, symlink: `../../etc/passwd${FAKE}` }], "archive.unsafe-entry"],
    ["a hard link to nothing", [file("release/app", helloElf()), { path: `release/h${FAKE}`, hardlink: `release/nothing${FAKE}` }], "archive.unsafe-entry"],
    ["a path both file and folder", [file(`release/d${FAKE}`, "x"), file(`release/d${FAKE}/f`, "y")], "archive.unsafe-entry"],
    ["the list of what the archive holds", [file("README", "x"), { path: `release/current${FAKE}`, symlink: `nothing${FAKE}` }], "archive.no-linux-binary"],
  ])("%s: shown escaped, on its own line", async (_case, entries, code) => {
    count += 1;
    const archivePath = join(work, `archive-${count}.tar`);
    writeFileSync(archivePath, tar(entries));
    const error = await extractRelease({ archivePath, staging: join(work, `staging-${count}`), architecture: HOST_ARCHITECTURE }).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExecpackError);
    const text = formatError(error as ExecpackError);
    expect((error as ExecpackError).code, text).toBe(code);
    expect(text).toContain("\\n !     fake line\\x1b[31m");
    expect(text.split("\n").some((line) => line.includes("fake line") && !line.includes("\\n !     fake"))).toBe(false);
    expect(text).not.toContain("\u001b");
  });
});
