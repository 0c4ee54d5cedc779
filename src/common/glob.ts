/** Globs as users write them in BINARY_NAME and BINARY_ASSET. */

/**
 * `**` crosses directories, `*` and `?` stay within one; everything else is literal. BINARY_NAME matches
 * archive paths with it as written; BINARY_ASSET matches asset names (which hold no "/") ignoring case,
 * since projects change case between releases.
 */
export function globToRegExp(glob: string, options: { ignoreCase?: boolean } = {}): RegExp {
  let source = "";
  for (let index = 0; index < glob.length; index++) {
    const char = glob[index] as string;
    if (char === "*" && glob[index + 1] === "*") {
      index += 1;
      if (glob[index + 1] === "/") {
        index += 1;
        source += "(?:.*/)?";
      } else {
        source += ".*";
      }
    } else if (char === "*") {
      source += "[^/]*";
    } else if (char === "?") {
      source += "[^/]";
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`, options.ignoreCase ? "si" : "s");
}
