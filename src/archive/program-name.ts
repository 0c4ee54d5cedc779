/**
 * The program's name in a release's file name: `caddy_linux_amd64` is caddy, `app-v1.2-linux-x86_64.gz` is
 * app, `prometheus-2.42.0.linux-amd64.tar.gz` is prometheus. A bare or compressed single-file download is
 * installed under this name, so the binary's argv[0] is the program's and not the asset's; the same name
 * tells which entry of a whole release is its main binary.
 *
 * The rule: drop the archive and compression extensions, split the rest at `-`, `_` and `.`, and keep the
 * tokens before the first one that is a version (`2`, `v1`), an operating system (`linux`, `darwin`...) or
 * an architecture (`amd64`, `x86`, `arm64`...). The first token always stays, so `k3s-linux` is k3s and
 * `static-web-server-v2.24.2-x86_64` is static-web-server.
 */

const EXTENSION = /\.(tar\.(gz|xz|bz2|zst)|tgz|txz|tbz2?|tar|zip|gz|xz|bz2|zst|bin)$/i;

const SEPARATOR = /[-_.]/;

/** A version (`1`, `v2`, `2023`), or a word that names no particular one (`latest`, `nightly`). */
const VERSION = /^(v?\d+[a-z]?|latest|nightly|snapshot|release)$/i;

const OPERATING_SYSTEM = /^(linux(32|64)?|darwin|macos|osx|windows|win(32|64)?|freebsd|openbsd|netbsd|unknown|gnu|musl)$/i;

// `x86_64` is split into `x86` and `64`; the cut is at `x86` already.
const ARCHITECTURE = /^(amd64|x86|x64|i[36]86|386|arm64|aarch64|arm(v[5-8]l?|hf|el)?|ppc64(le)?|s390x|riscv64|mips(64)?(le)?|loong64|(32|64)bit)$/i;

/**
 * The program name in a file or archive name (a path is reduced to its last segment), or undefined when the
 * name has nothing else (`linux-amd64.tar.gz`, `v1.2.zip`) or starts with no letter or digit (`.hidden`, `-x`).
 */
export function programName(fileName: string): string | undefined {
  let name = fileName.slice(fileName.lastIndexOf("/") + 1);
  while (EXTENSION.test(name)) name = name.replace(EXTENSION, "");
  // A name must start like a command: not empty, not hidden, not taken for an option.
  if (!/^[A-Za-z0-9]/.test(name)) return undefined;
  const tokens = name.split(SEPARATOR);
  if (isReleaseToken(tokens[0]!)) return undefined;
  // Cut at the separator in front of the first release token, keeping the original separators of the name.
  let end = tokens[0]!.length;
  for (const token of tokens.slice(1)) {
    if (isReleaseToken(token)) break;
    end += 1 + token.length;
  }
  return name.slice(0, end).replace(/[-_.]+$/, "");
}

function isReleaseToken(token: string): boolean {
  return VERSION.test(token) || OPERATING_SYSTEM.test(token) || ARCHITECTURE.test(token);
}
