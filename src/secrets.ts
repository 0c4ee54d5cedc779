/** Keeping secrets out of logs: URLs lose their password, sensitive names lose their value. */

const MASK = "*****";

/** Variable names whose value is a secret even when it is not a URL. */
const SECRET_NAME = /PASSWORD|PASSWD|(?:^|_)PASS(?:$|_)|SECRET|TOKEN|KEY|CREDENTIAL/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Masks the password (and a lone user-info token) of every URL-looking substring.
 * Works on text that is not a valid URL too, so a malformed DATABASE_URL never leaks in an error.
 */
export function maskUrl(text: string): string {
  // scheme://user:password@ → scheme://user:*****@ ; scheme://user@ is kept (a user name, not a secret).
  // The user-info runs to the LAST "@" of the word: a malformed URL whose password holds a raw "@" or "/"
  // (postgres://u:p@ss/w@host) must not leak the part after its first "@".
  return text.replace(
    /([a-z][a-z0-9+.-]*:\/\/)(\S*)@/gi,
    (_match, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      if (colon === -1) return `${scheme}${userinfo}@`;
      return `${scheme}${userinfo.slice(0, colon)}:${MASK}@`;
    },
  );
}

export const SECRET_MASK = MASK;

/**
 * A URL fit for a log: the password masked and the query hidden, since signed download URLs carry their
 * key there. Without "scheme://" maskUrl cannot tell where a password ends, so everything up to the last
 * "@" is hidden. Masking runs first so that a raw "?" inside a password cannot shorten what is masked.
 */
export function displayUrl(raw: string): string {
  const masked = maskUrl(raw).replace(/#.*$/s, "");
  const authorityEnd = masked.indexOf("@") + 1;
  const query = masked.indexOf("?", authorityEnd);
  const shown = query === -1 ? masked : `${masked.slice(0, query)}?...`;
  return shown.includes("://") ? shown : shown.replace(/^.*@/s, `${MASK}@`);
}
