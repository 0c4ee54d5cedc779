/**
 * The probe: a real ELF compiled from test/fixtures/probe/probe.c with the machine's C compiler, standing in
 * for a released server. It records its PID, parent, cwd, argv and environment into $PROBE_REPORT.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("../fixtures/probe/probe.c", import.meta.url));

/** Compiles the probe once per version of its source (the directory is keyed on its hash) and returns its path. */
export function probeBinary(): string {
  const digest = createHash("sha256").update(readFileSync(SOURCE)).digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `execpack-test-probe-${digest}`);
  mkdirSync(dir, { recursive: true });
  const output = join(dir, "probe");
  if (!existsSync(output)) {
    try {
      execFileSync("cc", ["-O2", "-o", `${output}.tmp`, SOURCE], { stdio: "pipe" });
      execFileSync("mv", [`${output}.tmp`, output]);
    } catch (error) {
      throw new Error(`The end-to-end tests compile a real ELF with 'cc'; install a C compiler. ${String(error)}`);
    }
  }
  return output;
}

export interface ProbeReport {
  pid: number;
  ppid: number;
  cwd: string;
  /** The SigIgn mask (hex) the binary started with: all zeros unless something left signals ignored. */
  ignoredSignals: string;
  argv: string[];
  env: Record<string, string>;
}

export function readProbeReport(file: string): ProbeReport {
  const fields = readFileSync(file, "utf8").split("\0");
  fields.pop(); // The report ends with a NUL.
  const [pid, ppid, cwd, ignoredSignals, argc, ...rest] = fields;
  const argv = rest.slice(0, Number(argc));
  const env: Record<string, string> = {};
  for (const entry of rest.slice(Number(argc))) {
    const equals = entry.indexOf("=");
    env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return { pid: Number(pid), ppid: Number(ppid), cwd: cwd ?? "", ignoredSignals: ignoredSignals ?? "", argv, env };
}
