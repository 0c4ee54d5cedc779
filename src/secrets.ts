/**
 * Keeping secrets out of logs: URLs lose their credentials, sensitive names lose their value.
 *
 * Any user info in a URL counts as a credential: `https://TOKEN@host` is how tokens travel (and download.ts
 * sends it as Basic auth), so a lone user is masked too; `user:password` keeps the user for context. Query
 * parameters whose name says secret (`token`, `password`, `X-Amz-Signature`, `sig`...) are masked as well.
 */

const MASK = "*****";

/** Variable and query-parameter names whose value is a secret even when it is not a URL. */
const SECRET_NAME = /PASSWORD|PASSWD|(?:^|[_-])PASS(?:$|[_-])|SECRET|TOKEN|KEY|CREDENTIAL|SIGNATURE|(?:^|[_-])SIG(?:$|[_-])|(?:^|[_-])AUTH(?:$|[_-])/i;

export const SECRET_MASK = MASK;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

const SCHEME_PREFIX = /^[a-z][a-z0-9+.-]*:\/\//i;

function decodedName(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text; // A broken escape in a parameter name: judge the name as written.
  }
}

function maskQuery(query: string): string {
  return query
    .split("&")
    .map((pair) => {
      const equals = pair.indexOf("=");
      return equals !== -1 && isSecretName(decodedName(pair.slice(0, equals))) ? `${pair.slice(0, equals + 1)}${MASK}` : pair;
    })
    .join("&");
}

/**
 * Where the user info of `rest` (a URL after its "scheme://") ends, or -1. Normally at the last "@" of the
 * authority. A password holding a raw "/", "?" or space pushes its "@" further out, so a later "@" still
 * ends the user info when what precedes it does not read like a query (no "=" or "&"): an e-mail address in
 * a query (`?email=me@example.com`) is not user info.
 */
function userinfoEnd(rest: string): number {
  const authority = rest.slice(0, rest.search(/[/?#]|$/));
  const last = rest.lastIndexOf("@");
  if (last !== -1 && !/[=&]/.test(rest.slice(0, last))) return last;
  return authority.lastIndexOf("@");
}

/** Masks one URL (a whole value, which may hold spaces in a malformed password). */
function maskOne(url: string, hideQuery: boolean): string {
  const start = url.indexOf("://") + 3;
  const rest = url.slice(start);
  const at = userinfoEnd(rest);
  let shown = url.slice(0, start);
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(":");
    shown += `${colon === -1 ? MASK : `${userinfo.slice(0, colon)}:${MASK}`}@`;
  }
  const remainder = rest.slice(at + 1);
  const query = remainder.indexOf("?");
  if (query === -1) return shown + (hideQuery ? remainder.replace(/#.*$/s, "") : remainder);
  if (hideQuery) return `${shown}${remainder.slice(0, query)}?...`;
  const hash = remainder.indexOf("#", query);
  const end = hash === -1 ? remainder.length : hash;
  return `${shown}${remainder.slice(0, query + 1)}${maskQuery(remainder.slice(query + 1, end))}${remainder.slice(end)}`;
}

/**
 * A URL in free text runs to the next whitespace or quote, and on across spaces up to an "@" later on the
 * line (but not into the next URL): a password with a raw space (`https://u:p ss@host`) is still masked whole. An e-mail address right
 * after a URL is masked with it: too much is the safe side.
 */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*(?:(?:[ \t]+(?![a-z][a-z0-9+.-]*:\/\/)[^\s"'<>`@]*)+@[^\s"'<>`]*)?/gi;

/**
 * Masks every URL in free text (an error message, a stack trace, the first bytes of a download). Works on
 * malformed URLs too, so a broken DATABASE_URL never leaks.
 */
export function maskUrl(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => maskOne(url, false));
}

/** A value that is one URL (a config var), masked as a whole: spaces in a malformed password included. */
export function maskUrlValue(value: string): string {
  return SCHEME_PREFIX.test(value) ? maskOne(value, false) : maskUrl(value);
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
