/** Names from outside as execpack prints them: control characters escaped, shell words that paste as text. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { counted, escapeControl, shellWord } from "../../src/common/output.js";

describe("escapeControl", () => {
  it.each([
    ["plain/name_linux_amd64", "plain/name_linux_amd64"],
    ["\u001b[31mred\u001b[0m", "\\x1b[31mred\\x1b[0m"],
    ["title\u001b]0;pwned\u0007", "title\\x1b]0;pwned\\x07"],
    ["two\nlines\r", "two\\nlines\\r"],
    ["c1\u009bcsi", "c1\\x9bcsi"],
    ["bidi\u202eexe.txt", "bidi\\u202eexe.txt"],
    ["ünïcödé ok", "ünïcödé ok"],
  ])("%j -> %j", (raw, shown) => {
    expect(escapeControl(raw)).toBe(shown);
  });

  it("leaves no control character in anything", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => {
      expect(escapeControl(text)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    }));
  });
});

describe("shellWord", () => {
  it("pastes back as exactly the value and runs nothing, whatever the value", () => {
    const dir = mkdtempSync(join(tmpdir(), "execpack-shellword-"));
    const marker = join(dir, "ran");
    try {
      const hostile = [`b/$(touch ${marker})_linux_amd64`, `\`touch ${marker}\``, "it's", "$HOME", "*/server", "a b", "~root", "!!", "x;touch y", "'"];
      const generated = fc.sample(fc.string({ unit: "grapheme-ascii" }), 40);
      for (const value of [...hostile, ...generated]) {
        const word = shellWord(value);
        if (word === undefined) continue; // control characters: the hint leaves the value out
        const result = spawnSync("bash", ["-c", `printf '%s' ${word}`], { encoding: "utf8", cwd: dir });
        expect(result.stdout, word).toBe(value);
      }
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("offers no word for a value with control characters", () => {
    expect(shellWord("a\nb")).toBeUndefined();
    expect(shellWord("\u001b[2J")).toBeUndefined();
    expect(shellWord("server")).toBe("server");
  });
});

describe("counted", () => {
  it.each([
    [0, "0 files"],
    [1, "1 file"],
    [2, "2 files"],
  ])("%i file(s) reads %s", (count, text) => {
    expect(counted(count, "file")).toBe(text);
  });
});
