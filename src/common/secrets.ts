/**
 * Keeping secrets out of logs: URLs lose their credentials, sensitive names lose their value.
 *
 * Any user info in a URL counts as a credential: `https://TOKEN@host` is how tokens travel (and the download
 * sends it as Basic auth), so a lone user is masked too; `user:password` keeps the user for context. Query
 * parameters whose name says secret (`token`, `password`, `X-Amz-Signature`, `sig`...) are masked as well,
 * and so is a fragment. Everything here runs in time linear in the text: it sees every config var at boot.
 */

const MASK = "*****";

/**
 * Names are read word by word (split at `_`, `-`, `.`, spaces and camelCase: `X-Amz-Signature`, `apiKey`,
 * `AWSAccessKeyId`). A word that ends in a secret word is one (`PGPASSWORD`, `APIKEY`; `MONKEY` too: masking
 * too much is the safe side), and so are a few short words that only count whole (`DB_PASS`, `MYSQL_PWD`).
 */
const SECRET_WORD = /(?:PASSWORDS?|PASSWD|PASSPHRASE|SECRETS?|TOKENS?|KEYS?|CREDENTIALS?|SIGNATURE|WEBHOOK)$|^(?:PASS|PWD|SIG|AUTH|AUTHORIZATION|PAT|DSN)$/;
/** After the last secret word, these say the value is about the secret, not the secret: `SSL_KEY_PATH`, `REDIS_KEY_PREFIX`. */
const ABOUT_A_SECRET = new Set(["PREFIX", "FILE", "PATH", "DIR", "URL", "URI", "HOST", "ENDPOINT", "NAME", "TYPE", "LENGTH", "TTL", "ALGORITHM"]);
const WORD_BREAK = /[\s_.-]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/;

export const SECRET_MASK = MASK;

/**
 * Values that are secrets whatever their name: a PEM private key, a key=value connection string (libpq DSN,
 * JDBC, ODBC) with a password, a JWT, a URL with a jwt= or password-like parameter, and a webhook URL, whose
 * secret is its path (`hooks.slack.com/services/T0/B0/XXXX`, `discord.com/api/webhooks/ID/TOKEN`).
 */
const SECRET_VALUE = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/,
  /(?:^|[\s;&?])(?:password|passwd|pwd)\s*=\s*[^\s;&]/i,
  /(?:^|[?&;\s])(?:jwt|access_token|id_token)=[^&\s]/i,
  /(?:^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/,
  /^https?:\/\/[^/\s]*(?:hooks?\.|webhook)[^/\s]*\/\S/i,
  /^https?:\/\/\S*\/(?:webhooks?|hooks)\/\S/i,
];

export function isSecretValue(value: string): boolean {
  return SECRET_VALUE.some((pattern) => pattern.test(value));
}

/** Variable and query-parameter names whose value is a secret even when it is not a URL. */
export function isSecretName(name: string): boolean {
  // The shell's working directory, which every process has: not MYSQL_PWD's abbreviation of a password.
  if (name === "PWD") return false;
  const words = name.split(WORD_BREAK).map((word) => word.toUpperCase());
  for (let index = words.length - 1; index >= 0; index -= 1) {
    if (SECRET_WORD.test(words[index]!)) return !ABOUT_A_SECRET.has(words[index + 1] ?? "");
  }
  return false;
}

/**
 * Where a URL starts: a scheme that is not the tail of a longer word, then "://". One right after "=" is a
 * query value of the URL before it (`?next=https://...`), masked as part of that URL's query.
 */
const SCHEME_START = /(?<![a-z0-9+.=-])[a-z][a-z0-9+.-]*:\/\//gi;
const SCHEME_PREFIX = /^[a-z][a-z0-9+.-]*:\/\//i;
/** Characters that end a URL in free text. */
const URL_END = new Set([" ", "\t", "\n", "\r", "\f", "\v", '"', "'", "<", ">", "`"]);
/** Characters a malformed password's continuation never crosses: the end of a line, a quote. */
const LINE_END = new Set(["\n", "\r", '"', "'", "<", ">", "`"]);

function parses(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

function decodedName(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text; // A broken escape in a parameter name: judge the name as written.
  }
}

/** Secret-named parameters lose their value; any other value still has the URLs inside it masked. */
function maskQuery(query: string): string {
  return query
    .split("&")
    .map((pair) => {
      const equals = pair.indexOf("=");
      if (equals === -1) return pair;
      const name = pair.slice(0, equals);
      return `${name}=${isSecretName(decodedName(name)) ? MASK : maskUrl(pair.slice(equals + 1))}`;
    })
    .join("&");
}

/**
 * Where the user info of `rest` (a URL after its "scheme://") ends, or -1.
 * A URL that does not parse (a raw "/", "?" or space in its password) is masked up to its last "@".
 * One that parses is read as WHATWG URL reads it, the user info ending at the last "@" of the authority,
 * with one exception: an "@" later on that is not in a query's `key=value` and not at the start of a path
 * segment (`/@scope/pkg`) ends the user info instead, since a password or token holding a raw "/", "?" or
 * "#" can parse that way (`https://abc/def@host`, `https://user:?pw@host`, `https://u:p#w@host`).
 */
function userinfoEnd(url: string, rest: string): number {
  if (!parses(url)) return rest.lastIndexOf("@");
  const authorityEnd = rest.search(/[/?#]|$/);
  if (authorityEnd === 0) return -1;
  const tail = rest.slice(authorityEnd);
  const later = tail.lastIndexOf("@");
  // "/@" starts an npm-style scope (`/@esbuild/linux-x64`), unless the authority holds a ":" that may be a password's.
  const scope = tail[later - 1] === "/" && !rest.slice(0, authorityEnd).includes(":");
  if (later > 0 && !scope && !/[=&]/.test(tail.slice(0, later))) return authorityEnd + later;
  return rest.lastIndexOf("@", authorityEnd - 1);
}

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(":");
  const user = colon === -1 ? "" : userinfo.slice(0, colon);
  return colon === -1 || /[/?#@]/.test(user) ? MASK : `${user}:${MASK}`;
}

/** Masks one URL (a whole value, which may hold spaces in a malformed password). */
function maskOne(url: string, hideQuery: boolean): string {
  const start = url.indexOf("://") + 3;
  const rest = url.slice(start);
  const at = userinfoEnd(url, rest);
  const shown = url.slice(0, start) + (at === -1 ? "" : `${maskUserinfo(rest.slice(0, at))}@`);
  const remainder = rest.slice(at + 1);
  const hash = remainder.indexOf("#");
  const beforeHash = hash === -1 ? remainder : remainder.slice(0, hash);
  const fragment = hash === -1 || hideQuery ? "" : `#${MASK}`;
  const query = beforeHash.indexOf("?");
  if (query === -1) return shown + beforeHash + fragment;
  if (hideQuery) return `${shown}${beforeHash.slice(0, query)}?...`;
  return `${shown}${beforeHash.slice(0, query + 1)}${maskQuery(beforeHash.slice(query + 1))}${fragment}`;
}

/**
 * Where the URL starting at `start` ends in free text: at whitespace or a quote, and never inside the next
 * URL (`limit`). A URL that reads as cut short by a raw space in its password (it does not parse, or it is
 * only `scheme://user:pass`) runs on across spaces to an "@" later on the same line.
 */
function urlEnd(text: string, start: number, limit: number): number {
  let end = start;
  while (end < limit && !URL_END.has(text[end]!)) end += 1;
  const token = text.slice(start, end);
  // Cut short: it does not parse, or its authority ends in ":" and something that is not a port number.
  const cutShort = !token.includes("@") && (!parses(token) || /^[^/]*\/\/[^/?#]*:(?!\d+(?:[/?#]|$))/.test(token) || /^[^/]*\/\/[^/?#]*:\d*$/.test(token));
  if (!cutShort) return end;
  for (let probe = end; probe < limit && !LINE_END.has(text[probe]!); probe += 1) {
    if (text[probe] !== "@") continue;
    let after = probe + 1;
    while (after < limit && !URL_END.has(text[after]!)) after += 1;
    return after;
  }
  return end;
}

/**
 * Masks every URL in free text (an error message, a stack trace, the first bytes of a download). Works on
 * malformed URLs too, so a broken DATABASE_URL never leaks.
 */
export function maskUrl(text: string): string {
  if (!text.includes("://")) return text;
  const starts = [...text.matchAll(SCHEME_START)].map((match) => match.index);
  let out = "";
  let done = 0;
  starts.forEach((start, index) => {
    if (start < done) return; // inside the previous URL's continuation
    const end = urlEnd(text, start, starts[index + 1] ?? text.length);
    out += text.slice(done, start) + maskOne(text.slice(start, end), false);
    done = end;
  });
  return out + text.slice(done);
}

/**
 * A value that is one URL (a config var), masked as a whole: spaces in a malformed password included. A list
 * of URLs in one value (`redis://a:1@h1,redis://b:2@h2`) is masked URL by URL.
 */
export function maskUrlValue(value: string): string {
  if (!SCHEME_PREFIX.test(value)) return maskUrl(value);
  const starts = [...value.matchAll(SCHEME_START)].map((match) => match.index);
  return starts.map((start, index) => maskOne(value.slice(start, starts[index + 1] ?? value.length), false)).join("");
}

/**
 * A URL fit for a log: credentials masked and the whole query hidden, since signed download URLs carry
 * their key there. Without "scheme://" nothing says where a password ends, so everything up to the last
 * "@" is hidden.
 */
export function displayUrl(raw: string): string {
  const value = raw.trim();
  if (SCHEME_PREFIX.test(value)) return maskOne(value, true);
  return value.replace(/#.*$/s, "").replace(/\?.*$/s, "?...").replace(/^.*@/s, `${MASK}@`);
}

/**
 * A download URL (BINARY_URL, a Node.js mirror) as shown: like displayUrl, but the user goes too, since a
 * token travels as the user there (`https://TOKEN@host`, `https://TOKEN:x-oauth-basic@host`).
 */
export function displayDownloadUrl(raw: string): string {
  return displayUrl(raw).replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*:\*{5}@/i, `$1${MASK}@`);
}
