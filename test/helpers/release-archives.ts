/**
 * Release archives built in memory, in every format execpack reads: zip (yazl), tar written block by block
 * (so a test can put in what no well-behaved packer would: "../" names, devices, lost modes), gzip via zlib
 * and xz via the system `xz`.
 */
import { execFileSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import yazl from "yazl";

export type Entry =
  | { path: string; content: Buffer | string; mode?: number }
  | { path: string; directory: true }
  | { path: string; symlink: string }
  | { path: string; hardlink: string }
  | { path: string; device: "character" | "block" | "fifo" };

export function file(path: string, content: Buffer | string, mode = 0o755): Entry {
  return { path, content, mode };
}

// ---------------------------------------------------------------------------------------------------------
// tar

const TYPEFLAG = { file: "0", hardlink: "1", symlink: "2", character: "3", block: "4", directory: "5", fifo: "6" };

export function tar(entries: readonly Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    if ("content" in entry) {
      const body = Buffer.from(entry.content);
      blocks.push(tarHeader(entry.path, { size: body.length, mode: entry.mode ?? 0o644, type: TYPEFLAG.file }));
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    } else if ("directory" in entry) {
      blocks.push(tarHeader(entry.path, { mode: 0o755, type: TYPEFLAG.directory }));
    } else if ("symlink" in entry) {
      blocks.push(tarHeader(entry.path, { mode: 0o777, type: TYPEFLAG.symlink, linkname: entry.symlink }));
    } else if ("hardlink" in entry) {
      blocks.push(tarHeader(entry.path, { mode: 0o755, type: TYPEFLAG.hardlink, linkname: entry.hardlink }));
    } else {
      blocks.push(tarHeader(entry.path, { mode: 0o644, type: TYPEFLAG[entry.device] }));
    }
  }
  blocks.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return Buffer.concat(blocks);
}

function tarHeader(path: string, fields: { size?: number; mode: number; type: string; linkname?: string }): Buffer {
  const block = Buffer.alloc(512);
  let name = path;
  let prefix = "";
  if (Buffer.byteLength(path) > 100) {
    const cut = path.lastIndexOf("/", 155);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  const octal = (value: number, offset: number, length: number) =>
    block.write(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length, "latin1");
  block.write(name, 0, 100, "utf8");
  octal(fields.mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(fields.size ?? 0, 124, 12);
  octal(1_700_000_000, 136, 12); // mtime
  block.write(fields.type, 156, 1, "latin1");
  block.write(fields.linkname ?? "", 157, 100, "utf8");
  block.write("ustar\0" + "00", 257, 8, "latin1");
  block.write("root", 265, 32, "latin1");
  block.write("root", 297, 32, "latin1");
  block.write(prefix, 345, 155, "utf8");
  block.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return block;
}

export function tarGz(entries: readonly Entry[]): Buffer {
  return gzipSync(tar(entries));
}

export function tarXz(entries: readonly Entry[]): Buffer {
  return xz(tar(entries));
}

export function gz(bytes: Buffer): Buffer {
  return gzipSync(bytes);
}

export function xz(bytes: Buffer): Buffer {
  return execFileSync("xz", ["--compress", "--stdout", "-0", "-T1"], { input: bytes, maxBuffer: 1024 ** 3 });
}

// ---------------------------------------------------------------------------------------------------------
// zip

const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** Symlinks become entries with the S_IFLNK mode and the target as content, as Info-ZIP stores them. */
export async function zip(entries: readonly Entry[], options: { compress?: boolean } = {}): Promise<Buffer> {
  const archive = new yazl.ZipFile();
  const mtime = new Date("2024-01-01T00:00:00Z");
  for (const entry of entries) {
    if ("content" in entry) {
      const mode = S_IFREG | (entry.mode ?? 0o644);
      archive.addBuffer(Buffer.from(entry.content), entry.path, { mode, mtime, compress: options.compress ?? true });
    } else if ("directory" in entry) {
      archive.addEmptyDirectory(entry.path, { mtime });
    } else if ("symlink" in entry) {
      archive.addBuffer(Buffer.from(entry.symlink), entry.path, { mode: S_IFLNK | 0o777, mtime, compress: false });
    } else {
      throw new Error(`zip cannot hold ${JSON.stringify(entry)}`);
    }
  }
  archive.end();
  const chunks: Buffer[] = [];
  for await (const chunk of archive.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Renames entries after the fact, for names yazl refuses to write ("../evil", "/etc/passwd"): the
 * placeholder must have the same length, and names are not covered by any checksum.
 */
export function renameInZip(archive: Buffer, placeholder: string, actual: string): Buffer {
  if (Buffer.byteLength(placeholder) !== Buffer.byteLength(actual)) throw new Error("names must have the same length");
  const patched = Buffer.from(archive);
  const from = Buffer.from(placeholder);
  let index = patched.indexOf(from);
  if (index === -1) throw new Error(`"${placeholder}" is not in the archive`);
  while (index !== -1) {
    patched.write(actual, index);
    index = patched.indexOf(from, index + from.length);
  }
  return patched;
}
