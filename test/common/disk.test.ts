/**
 * Which system errors are disk errors, and the code each becomes (common/disk.ts). ENOSPC, EROFS and EACCES
 * are also produced for real on a tmpfs (test/fetch/hard-faults.test.ts, test/install/disk-faults.test.ts);
 * EDQUOT needs a file system with quotas turned on, which a test cannot mount, so its mapping is held here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { diskFailure, isDiskError, onDisk } from "../../src/common/disk.js";
import { formatError } from "../../src/common/output.js";

const dir = mkdtempSync(join(tmpdir(), "execpack-disk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, write`), { code, syscall: "write", errno: -1 });
}

describe("diskFailure", () => {
  it.each([
    ["ENOSPC", "install.disk-full", "The disk is full", true],
    ["EDQUOT", "install.disk-full", "The disk quota is used up", true],
    ["EROFS", "install.read-only", "The file system is read-only", false],
    ["EACCES", "install.permission-denied", "Permission denied", false],
    ["EPERM", "install.permission-denied", "Operation not permitted", false],
  ])("%s becomes %s", (errno, code, summary, showsFree) => {
    const error = diskFailure(systemError(errno), { directory: dir, what: "the release", needed: 3 * 1024 * 1024, atLeast: true });
    expect(error?.code).toBe(code);
    const text = formatError(error!);
    expect(text).toContain(`${summary}: could not write the release`);
    expect(text).toContain(`where: "${dir}"`);
    expect(text).toContain("needed: at least 3.0 MiB");
    expect(text).toContain(`error: ${errno}`);
    if (showsFree) expect(text).toMatch(/free: \d/);
    else expect(text).not.toContain("free:");
    expect(isDiskError(systemError(errno))).toBe(true);
  });

  it.each(["ECONNRESET", "EMFILE", "ENOENT", "EIO"])("%s is no disk error of these: undefined, left to its own handling", (errno) => {
    expect(diskFailure(systemError(errno), { directory: dir, what: "the release" })).toBeUndefined();
    expect(isDiskError(systemError(errno))).toBe(false);
  });

  it("onDisk converts a disk error thrown by its step and passes anything else on unchanged", () => {
    expect(() => onDisk({ directory: dir, what: "x" }, () => { throw systemError("EDQUOT"); })).toThrow(expect.objectContaining({ code: "install.disk-full" }));
    const other = new TypeError("not a disk error");
    expect(() => onDisk({ directory: dir, what: "x" }, () => { throw other; })).toThrow(other);
    expect(onDisk({ directory: dir, what: "x" }, () => 42)).toBe(42);
  });
});
