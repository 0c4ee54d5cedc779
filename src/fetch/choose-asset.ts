/**
 * Choosing the asset of a release for the dyno, from the names alone (the bytes are judged later, by
 * archive/). Passed over, each with its reason: checksums, signatures, certificates, SBOMs and attestations,
 * packages and installers (.deb, .rpm, .apk, .msi, .dmg, .exe...), source archives, formats execpack does not
 * read, and builds for another OS or architecture. Of what remains, preferred in turn: one named like the
 * repository (not a companion tool), a name that says Linux, one that says the dyno's architecture, glibc
 * over musl (Heroku's stacks have no musl loader; a static musl binary still works when it is all there is),
 * a static build over a dynamically linked one, a release build over a debug build, and of one build
 * offered in several formats, the tar.gz. BINARY_ASSET (a glob) narrows the choice first. Pure.
 */
import { quote } from "./url-policy.js";
import { ExecpackError } from "../common/errors.js";
import { shellWord } from "../common/output.js";
import { globToRegExp } from "../common/glob.js";

export type AssetArchitecture = "x86_64" | "aarch64";

export interface NamedAsset {
  name: string;
}

export interface AssetQuery {
  /** The repository's name (`widget` of acme/widget): assets named like it are preferred. */
  repo: string;
  /** `acme/widget v1.2.0`, for messages. */
  release: string;
  /** The release's tag: the version in it becomes `*` in the BINARY_ASSET a message suggests. */
  tag: string;
  architecture: AssetArchitecture;
  /** BINARY_ASSET. */
  pattern?: string | undefined;
}

interface Verdict<T> {
  asset: T;
  /** Why it was passed over; undefined while it is still a candidate. */
  reason: string | undefined;
}

/** The one asset to download, or an ExecpackError listing every asset and why each was passed over. */
export function chooseAsset<T extends NamedAsset>(assets: readonly T[], query: AssetQuery): T {
  let pool = assets;
  if (query.pattern !== undefined) {
    const pattern = globToRegExp(query.pattern, { ignoreCase: true });
    pool = assets.filter((asset) => pattern.test(asset.name));
    if (pool.length === 0) throw patternMatchesNothing(assets, query);
    // An exact choice is the user's to make: even a name that looks like a package is taken as asked.
    if (pool.length === 1) return pool[0]!;
  }
  const verdicts: Verdict<T>[] = pool.map((asset) => ({ asset, reason: exclusion(asset.name, query.architecture) }));
  for (const prefer of preferences(query)) {
    const candidates = verdicts.filter((verdict) => verdict.reason === undefined);
    if (candidates.length < 2) break;
    const reasons = candidates.map((verdict) => prefer(verdict.asset.name, candidates.map((candidate) => candidate.asset.name)));
    if (reasons.every((reason) => reason !== undefined)) continue; // a preference none meets decides nothing
    candidates.forEach((verdict, index) => (verdict.reason = reasons[index]));
  }
  const remaining = verdicts.filter((verdict) => verdict.reason === undefined);
  if (remaining.length === 1) return remaining[0]!.asset;
  if (remaining.length === 0) throw noAssetFits(assets, verdicts, query);
  throw ambiguous(assets, verdicts, query);
}

// ---- reading a name -----------------------------------------------------------------------------------

/** Lowercased, with the spellings of the two dyno architectures made single words first. */
function tokens(name: string): string[] {
  const normal = name.toLowerCase().replace(/x86[-_]64/g, "amd64").replace(/aarch[-_]?64/g, "arm64");
  return normal.split(/[^a-z0-9]+/).filter((token) => token !== "");
}

const OTHER_OS: ReadonlyArray<[RegExp, string]> = [
  [/^(darwin|macos|osx|mac|apple|macosx|universal)$/, "macOS"],
  [/^(windows|win|win32|win64|mingw|mingw32|mingw64|msvc|pc)$/, "Windows"],
  [/^(freebsd|openbsd|netbsd|dragonfly|dragonflybsd)$/, "BSD"],
  [/^(solaris|illumos|sunos)$/, "Solaris"],
  [/^(android|ios|aix|plan9|wasm|wasi|wasip1|emscripten)$/, "another platform"],
];
/** Linux by name, or by a distribution's (PostgREST's `ubuntu-aarch64`); `alpine` says musl too. */
const LINUX = /^(linux|linux64|linux32|linuxamd64|linuxarm64|manylinux|musllinux|ubuntu|debian|centos|rhel|el7|el8|el9|fedora|alpine)$/;

const ARCHITECTURES: Readonly<Record<string, RegExp>> = {
  x86_64: /^(amd64|x64|64bit|linux64|win64|x8664|intel64)$/,
  aarch64: /^(arm64|armv8|armv8a|arm64v8|linuxarm64)$/,
};
const ANY_ARCHITECTURE =
  /^(amd64|x64|64bit|linux64|linuxamd64|arm64|armv8|armv8a|arm64v8|linuxarm64|386|i386|i486|i586|i686|x86|32bit|ia32|linux32|win32|arm|armv5|armv6|armv6l|armv6hf|armv7|armv7l|armv7a|armhf|armel|arm32|ppc64le|ppc64|ppc|powerpc|powerpc64le|s390x|riscv64|mips|mipsle|mips64|mips64le|mipsel|loong64|loongarch64|sparc64)$/;

/** Extensions of what is not a server to run, and what each is. */
const NOT_A_RELEASE: ReadonlyArray<[RegExp, (match: string) => string]> = [
  [/(^|[._-])(checksums?|sha(1|224|256|384|512)sums?|md5sums?)([._-][a-z0-9]+)*$|\.(sha1|sha256|sha512|md5|sha256sum|sha512sum)$/, () => "a checksum file"],
  [/\.(sig|asc|gpg|minisig|pem|crt|cert|pub|sigstore|bundle|sigstore\.json|keyless\.sig)$/, () => "a signature or certificate"],
  [/sbom|\.spdx(\.json)?$|\.cdx\.(json|xml)$|cyclonedx|\.intoto\.jsonl$|provenance|attestation/, () => "an SBOM or attestation"],
  [/\.(deb|rpm|apk|msi|msix|dmg|pkg|exe|snap|flatpak|appimage|nupkg|whl|vsix|ipk|pkg\.tar\.zst)$/, (ext) => `a package or installer (${ext})`],
  [/\.(tar\.bz2|tbz2?|bz2|7z|rar|tar\.zst|zst|tar\.lz|lz|lz4|lzma|tar\.lzma|br|cab|jar|war)$/, (ext) => `a format execpack does not read (${ext})`],
  [/\.(txt|md|json|jsonl|ya?ml|xml|html?|pdf|sh|ps1|bat|cmd|py|rb|toml|ini|conf|cfg|csv|log|png|svg|jpe?g|gif|ico|css|js|map|pom)$/, (ext) => `not a binary or an archive (${ext})`],
];
const SOURCE = /^(src|source|sources|vendor|vendored|srcs)$/;
const SYMBOLS = /^(symbols|debuginfo|dbgsym|pdb|dsym)$/;

function exclusion(name: string, architecture: AssetArchitecture): string | undefined {
  const lower = name.toLowerCase();
  for (const [pattern, describe] of NOT_A_RELEASE) {
    const match = pattern.exec(lower);
    if (match) return describe(match[0]);
  }
  const words = tokens(name);
  if (words.some((word) => SOURCE.test(word))) return "a source archive";
  if (words.some((word) => SYMBOLS.test(word))) return "debug symbols";
  const linux = words.some((word) => LINUX.test(word));
  const otherOs = OTHER_OS.find(([pattern]) => words.some((word) => pattern.test(word)))?.[1];
  if (otherOs && !linux) return `for ${otherOs}`;
  const otherArchitecture = words.find((word) => ANY_ARCHITECTURE.test(word) && !namesArchitecture([word], architecture));
  if (otherArchitecture && !namesArchitecture(words, architecture)) return `for another architecture (${otherArchitecture})`;
  return undefined;
}

function namesArchitecture(words: readonly string[], architecture: AssetArchitecture): boolean {
  // "linux-arm-64bit" (Hugo's old names) is arm64, not x86-64.
  if (architecture === "x86_64" && words.some((word) => /^arm/.test(word))) return false;
  if (architecture === "aarch64" && words.includes("arm") && words.includes("64bit")) return true;
  return words.some((word) => ARCHITECTURES[architecture]!.test(word));
}

/** What archive/ reads, best first: of one build offered in several formats, the first of these wins. */
const FORMATS: ReadonlyArray<[RegExp, string]> = [
  [/\.(tar\.gz|tgz)$/, "tar.gz"], [/\.(tar\.xz|txz)$/, "tar.xz"], [/\.zip$/, "zip"], [/\.tar$/, "tar"], [/\.gz$/, "gzip"], [/\.xz$/, "xz"],
];

function formatOf(name: string): { stem: string; rank: number } {
  const lower = name.toLowerCase();
  const index = FORMATS.findIndex(([pattern]) => pattern.test(lower));
  return index === -1 ? { stem: lower, rank: FORMATS.length } : { stem: lower.replace(FORMATS[index]![0], ""), rank: index };
}

// ---- preferences among the candidates -----------------------------------------------------------------

type Preference = (name: string, candidates: readonly string[]) => string | undefined;

function preferences(query: AssetQuery): Preference[] {
  const arch = query.architecture === "x86_64" ? "amd64 / x86_64" : "arm64 / aarch64";
  const repo = query.repo.toLowerCase();
  return [
    (name) => (name.toLowerCase().startsWith(repo) && !/[a-z0-9]/.test(name.charAt(repo.length).toLowerCase()) ? undefined : `not named like the repository (${quote(query.repo)})`),
    (name) => (tokens(name).some((word) => LINUX.test(word)) ? undefined : "does not name Linux, and other assets do"),
    (name) => (namesArchitecture(tokens(name), query.architecture) ? undefined : `does not name ${arch}, and other assets do`),
    (name) => (tokens(name).some((word) => word === "musl" || word === "alpine") ? "a musl build, and a glibc one is offered (Heroku's stacks have no musl loader)" : undefined),
    (name) => (tokens(name).includes("static") ? undefined : "linked dynamically, and a static build is offered"),
    (name) => (tokens(name).some((word) => word === "debug" || word === "dbg") ? "a debug build" : undefined),
    (name, candidates) => {
      const { stem, rank } = formatOf(name);
      const better = candidates.find((other) => formatOf(other).stem === stem && formatOf(other).rank < rank);
      return better === undefined ? undefined : `the same build as ${quote(better)}, in another format`;
    },
  ];
}

// ---- errors: each lists every asset and why it was passed over -------------------------------------------

function dyno(architecture: AssetArchitecture): string {
  return architecture === "x86_64" ? "Linux x86_64 (amd64)" : "Linux aarch64 (arm64)";
}

function listing<T extends NamedAsset>(assets: readonly T[], verdicts: readonly Verdict<T>[]): string[] {
  const reasons = new Map(verdicts.map((verdict) => [verdict.asset.name, verdict.reason]));
  return assets.map((asset) => {
    const reason = reasons.has(asset.name) ? (reasons.get(asset.name) ?? "fits") : "does not match BINARY_ASSET";
    return `  ${quote(asset.name)}: ${reason}`;
  });
}

/** The asset's name with the version turned into `*`, so that BINARY_ASSET survives the next release. */
export function suggestPattern(name: string, tag: string): string {
  const version = /\d+(?:\.\d+)+(?:-[0-9A-Za-z.]+)?/.exec(tag)?.[0];
  return version && name.includes(version) ? name.split(version).join("*") : name;
}

function noAssetFits<T extends NamedAsset>(assets: readonly T[], verdicts: readonly Verdict<T>[], query: AssetQuery): ExecpackError {
  return new ExecpackError("release.no-asset", `No asset of ${query.release} fits a ${dyno(query.architecture)} dyno`, {
    seen: assets.length === 0 ? ["the release has no assets (only GitHub's source code archives)"] : ["assets:", ...listing(assets, verdicts)],
    hint: "If one of them is the Linux build after all, name it: heroku config:set BINARY_ASSET='NAME' (a glob such as '*linux*' works). Or name another release, or set BINARY_URL to the file's own address.",
  });
}

function ambiguous<T extends NamedAsset>(assets: readonly T[], verdicts: readonly Verdict<T>[], query: AssetQuery): ExecpackError {
  const first = verdicts.find((verdict) => verdict.reason === undefined)!.asset.name;
  // Quoted for the shell (common/output.ts): an asset named with `$(...)` must paste as text.
  const word = shellWord(suggestPattern(first, query.tag));
  return new ExecpackError("release.ambiguous-asset", `Several assets of ${query.release} fit a ${dyno(query.architecture)} dyno`, {
    seen: ["assets:", ...listing(assets, verdicts)],
    hint: word
      ? `Choose one with BINARY_ASSET, e.g. heroku config:set BINARY_ASSET=${word}`
      : "Choose one with BINARY_ASSET: a glob matching the asset's name (* for any text, ? for one character).",
  });
}

function patternMatchesNothing<T extends NamedAsset>(assets: readonly T[], query: AssetQuery): ExecpackError {
  return new ExecpackError("release.asset-not-found", `BINARY_ASSET matches no asset of ${query.release}`, {
    seen: [`BINARY_ASSET: ${quote(query.pattern ?? "")}`, "assets:", ...assets.map((asset) => `  ${quote(asset.name)}`)],
    hint: "Set BINARY_ASSET to one of the names above or a glob matching one (* for any text, ? for one character), or unset it to let execpack choose.",
  });
}
