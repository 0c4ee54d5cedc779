/** The stdio probe (test/fixtures/stdio-probe/stdio-probe.c), compiled once per version of its source. */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("../fixtures/stdio-probe/stdio-probe.c", import.meta.url));

export function stdioProbeBinary(): string {
  const digest = createHash("sha256").update(readFileSync(SOURCE)).digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `execpack-test-stdio-probe-${digest}`);
  const output = join(dir, "stdio-probe");
  if (!existsSync(output)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${output}.${process.pid}.tmp`; // Parallel test files race safely: each renames a complete file.
    execFileSync("cc", ["-O2", "-o", partial, SOURCE], { stdio: "pipe" });
    renameSync(partial, output);
  }
  return output;
}

/** "fd N flags OCTAL" lines of `stdio-probe --fds`, as fd -> flags. */
export function parseFdFlags(text: string): Map<number, number> {
  const fds = new Map<number, number>();
  for (const match of text.matchAll(/^fd (\d+) flags ([0-7]+)$/gm)) fds.set(Number(match[1]), Number.parseInt(match[2]!, 8));
  return fds;
}

export const O_NONBLOCK = 0o4000;
