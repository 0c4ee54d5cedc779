/**
 * The checksums a release publishes for its own assets: which of its files may hold the SHA-256 of an asset
 * (`<asset>.sha256`, goreleaser's `checksums.txt` and `<project>_<version>_checksums.txt`, `SHA256SUMS`,
 * `sha256sums.txt`), and reading one (`sha256sum` lines, BSD `SHA256 (name) = hex` lines, or a lone digest
 * in `<asset>.sha256`). Pure.
 */

/** Names of the release's files that may list `asset`'s SHA-256, the one made for it first. */
export function checksumFiles(names: readonly string[], asset: string): string[] {
  const own = [".sha256", ".sha256sum", ".sha256.txt"].map((suffix) => `${asset}${suffix}`.toLowerCase());
  const mine = names.filter((name) => own.includes(name.toLowerCase()));
  const shared = names.filter((name) => SHARED.test(name) && !mine.includes(name));
  return [...mine, ...shared];
}

const SHARED = /^(?:(?:.*[._-])?checksums?(?:[._-]sha256)?(?:\.txt)?|(?:.*[._-])?sha256sums?(?:\.txt)?|checksums?\.sha256)$/i;

/** The SHA-256 (lowercase hex) the file gives for `asset`, or undefined when it does not list it. */
export function findChecksum(text: string, asset: string, fileName: string): string | undefined {
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const gnu = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line);
    if (gnu && sameFile(gnu[2]!, asset)) return gnu[1]!.toLowerCase();
    const bsd = /^SHA256\s*\((.+)\)\s*=\s*([0-9a-fA-F]{64})$/i.exec(line);
    if (bsd && sameFile(bsd[1]!, asset)) return bsd[2]!.toLowerCase();
  }
  // `<asset>.sha256` often holds the digest alone: it can only be about that asset.
  const lone = /^([0-9a-fA-F]{64})\s*$/.exec(text.trim());
  return lone && fileName.toLowerCase().startsWith(`${asset.toLowerCase()}.`) ? lone[1]!.toLowerCase() : undefined;
}

/** Listed as `widget.tar.gz`, `./widget.tar.gz` or `dist/widget.tar.gz`: the name is what counts. */
function sameFile(listed: string, asset: string): boolean {
  return listed.trim().split("/").at(-1) === asset;
}
