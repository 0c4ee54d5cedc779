/**
 * Which shared libraries a release's programs need, and which of those the dyno will not have. Each program's
 * DT_NEEDED entries are resolved the way the dynamic loader will resolve them on the dyno: the program's own
 * DT_RPATH / DT_RUNPATH (with $ORIGIN), the release's library folders (execpack puts the ones needed on the
 * binary's LD_LIBRARY_PATH at boot), then the stack's library paths (/etc/ld.so.conf and the default folders).
 * Libraries found in the release are followed in turn: a bundled libgeos needs its own libraries too.
 *
 * Run at build time. The build machine stands in for the dyno's stack: Heroku's build image holds more
 * libraries than the run image, so a library found here may still be missing on a dyno, never the other way.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from "node:fs";
import { posix } from "node:path";
import { isElf, readElfHeader } from "./elf.js";

export interface LibraryCheck {
  /** Library folders of the release (paths under the root) the loader must be told about: LD_LIBRARY_PATH. */
  libraryPath: string[];
  /** Each library no search path holds, with the programs (paths under the root) that need it. */
  missing: Map<string, string[]>;
}

interface Dynamic {
  needed: string[];
  rpath: string[];
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

/** The stack's folders, as glibc's loader searches them after the program's own paths. */
export function stackLibraryFolders(machine = "x86_64"): string[] {
  const triplet = machine === "aarch64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const folders = [...readLdSoConf("/etc/ld.so.conf", 0), `/lib/${triplet}`, `/usr/lib/${triplet}`, "/lib64", "/usr/lib64", "/lib", "/usr/lib"];
  return [...new Set(folders)];
}

function readLdSoConf(file: string, depth: number): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return []; // no ld.so.conf: the default folders still apply
  }
  const folders: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const include = /^include\s+(.+)$/.exec(line);
    if (include && depth < 4) {
      const pattern = include[1] as string;
      const dir = posix.dirname(pattern);
      const suffix = posix.basename(pattern).replace(/^\*/, "");
      const names = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(suffix)).sort() : [];
      for (const name of names) folders.push(...readLdSoConf(posix.join(dir, name), depth + 1));
    } else if (line.startsWith("/")) {
      folders.push(line);
    }
  }
  return folders;
}

/**
 * Checks every program of the release rooted at `root` (`programs` are paths under it). `stackFolders` are
 * absolute; tests pass their own.
 */
export function checkLibraries(root: string, programs: readonly string[], stackFolders: readonly string[] = stackLibraryFolders()): LibraryCheck {
  const releaseFolders = libraryFolders(root);
  const missing = new Map<string, string[]>();
  const used = new Set<string>();
  const queue = programs.map((program) => ({ file: program, neededBy: program }));
  const seen = new Set<string>(programs);
  while (queue.length > 0) {
    const { file, neededBy } = queue.shift() as { file: string; neededBy: string };
    const dynamic = readDynamic(posix.join(root, file));
    if (!dynamic) continue;
    const origin = posix.dirname(posix.join(root, file));
    const own = (paths: string[]) => paths.flatMap((entry) => entry.split(":")).filter(Boolean).map((entry) => entry.replace(/\$(ORIGIN|\{ORIGIN\})/g, origin));
    // DT_RPATH is ignored by the loader when DT_RUNPATH is present.
    const ownFolders = dynamic.runpath.length > 0 ? own(dynamic.runpath) : own(dynamic.rpath);
    for (const library of dynamic.needed) {
      if (library.includes("/")) continue; // a path, not a name to search
      if (ownFolders.some((folder) => existsSync(posix.join(folder, library)))) {
        const inside = ownFolders.map((folder) => posix.join(folder, library)).find((path) => existsSync(path) && path.startsWith(`${root}/`));
        if (inside) follow(posix.relative(root, inside));
        continue;
      }
      const bundled = releaseFolders.find((folder) => existsSync(posix.join(root, folder, library)));
      if (bundled !== undefined) {
        used.add(bundled);
        follow(posix.join(bundled, library));
        continue;
      }
      if (stackFolders.some((folder) => existsSync(posix.join(folder, library)))) continue;
      const programsNeeding = missing.get(library) ?? [];
      if (!programsNeeding.includes(neededBy)) programsNeeding.push(neededBy);
      missing.set(library, programsNeeding);
    }
    function follow(path: string): void {
      if (seen.has(path)) return;
      seen.add(path);
      queue.push({ file: path, neededBy });
    }
  }
  return { libraryPath: releaseFolders.filter((folder) => used.has(folder)), missing };
}

/**
 * Folders of the release that hold shared libraries (`*.so`, `*.so.N`), shallowest first: `lib/`, `lib64/`,
 * `lib/x86_64-linux-gnu/`, `usr/lib/`... Only their names are read, never their files.
 */
function libraryFolders(root: string): string[] {
  const found: string[] = [];
  const walk = (relative: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(posix.join(root, relative));
    } catch {
      return;
    }
    if (relative !== "" && names.some((name) => /\.so(\.\d+)*$/.test(name))) found.push(relative);
    if (depth >= 4) return;
    for (const name of names.sort()) {
      const path = relative === "" ? name : `${relative}/${name}`;
      try {
        if (statSync(posix.join(root, path)).isDirectory()) walk(path, depth + 1);
      } catch {
        // A link to nothing: not a folder to look in.
      }
    }
  };
  walk("", 0);
  return found.sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
}

/** The dynamic section of a 64-bit little-endian ELF: its DT_NEEDED, DT_RPATH and DT_RUNPATH strings. */
export function readDynamic(file: string): Dynamic | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const read = (position: number, length: number): Buffer => {
      const buffer = Buffer.alloc(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
    };
    const head = read(0, 64);
    const header = readElfHeader(head);
    if (!isElf(head) || !header || header.class !== 64 || header.endianness !== "little") return undefined;
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    if (phentsize < 56 || phnum > 512) return undefined;
    const table = read(phoff, phentsize * phnum);
    const loads: { vaddr: bigint; offset: bigint; size: bigint }[] = [];
    let dynamic: { offset: number; size: number } | undefined;
    for (let base = 0; base + phentsize <= table.length; base += phentsize) {
      const type = table.readUInt32LE(base);
      const offset = table.readBigUInt64LE(base + 8);
      const vaddr = table.readBigUInt64LE(base + 16);
      const filesz = table.readBigUInt64LE(base + 32);
      if (type === PT_LOAD) loads.push({ vaddr, offset, size: filesz });
      if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Math.min(Number(filesz), 64 * 1024) };
    }
    if (!dynamic) return { needed: [], rpath: [], runpath: [] }; // static: needs nothing
    const entries = read(dynamic.offset, dynamic.size);
    const raw: { tag: bigint; value: bigint }[] = [];
    let strtab: bigint | undefined;
    for (let base = 0; base + 16 <= entries.length; base += 16) {
      const tag = entries.readBigInt64LE(base);
      const value = entries.readBigUInt64LE(base + 8);
      if (tag === 0n) break;
      if (tag === DT_STRTAB) strtab = value;
      else raw.push({ tag, value });
    }
    const segment = strtab === undefined ? undefined : loads.find((load) => strtab! >= load.vaddr && strtab! < load.vaddr + load.size);
    if (strtab === undefined || !segment) return undefined;
    const strtabOffset = Number(strtab - segment.vaddr + segment.offset);
    const string = (offset: bigint): string => {
      const bytes = read(strtabOffset + Number(offset), 4096);
      const end = bytes.indexOf(0);
      return bytes.subarray(0, end === -1 ? bytes.length : end).toString("utf8");
    };
    const pick = (tag: bigint) => raw.filter((entry) => entry.tag === tag).map((entry) => string(entry.value));
    return { needed: pick(DT_NEEDED), rpath: pick(DT_RPATH), runpath: pick(DT_RUNPATH) };
  } catch {
    return undefined; // a damaged ELF: runnable.ts reports what it can about it, this check has nothing to add
  } finally {
    closeSync(fd);
  }
}

/** Debian's package name for a library, by its naming policy: libfoo.so.1 -> libfoo1, liblzo2.so.2 -> liblzo2-2. */
export function debianPackageGuess(library: string): string {
  const match = /^(.+?)\.so\.(\d+)/.exec(library);
  if (!match) return library.replace(/\.so$/, "");
  const [, stem, major] = match as unknown as [string, string, string];
  return /\d$/.test(stem) ? `${stem}-${major}` : `${stem}${major}`;
}
