/**
 * Connection URLs of databases, caches and brokers (DATABASE_URL, JAWSDB_URL, REDIS_URL, ...) split into
 * their parts, and the `<BASE>_HOST`, `_PORT`, ... variables derived from them. Pure: callers pass values in.
 *
 * Why not `new URL()` alone: WHATWG URL cannot hold several hosts (`postgres://h1:5432,h2:5433`), tolerates
 * what must be refused here (bad percent-encoding, a `#` left unencoded in a password) and leaves the parts
 * encoded. So the URL is split by RFC 3986 here, and WHATWG URL parses each `host:port` (IPv6, port range).
 */
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { isSecretName } from "../common/secrets.js";

export const CONNECTION_SCHEMES = [
  "postgres", "postgresql", "mysql", "mysql2", "mariadb", "redis", "rediss", "amqp", "amqps", "mongodb", "mongodb+srv",
] as const;
export type ConnectionScheme = (typeof CONNECTION_SCHEMES)[number];

export interface HostPort {
  /** Without brackets for IPv6 (`::1`); a directory for a postgres Unix socket (`/var/run/postgresql`). */
  readonly host: string;
  /** The scheme's default when the URL has none; undefined only for mongodb+srv, where DNS SRV decides. */
  readonly port: number | undefined;
}

/** At least one host. */
export type HostList = readonly [HostPort, ...HostPort[]];
type Params = Readonly<Record<string, string>>;

export interface ConnectionInfo {
  readonly scheme: ConnectionScheme;
  readonly hosts: HostList;
  /** Percent-decoded; undefined when the URL has no user info. */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Database name, redis database index (default "0") or amqp vhost (default "/"). */
  readonly database: string | undefined;
  /** The query, percent-decoded; a repeated key keeps its last value. `+` stays `+` (RFC 3986, as libpq). */
  readonly params: Params;
  readonly tls: boolean;
}

type Family = "postgres" | "mysql" | "redis" | "amqp" | "mongodb";
interface SchemeRule { family: Family; port: number | undefined; multiHost: boolean; tls: boolean }

const RULES: Readonly<Record<ConnectionScheme, SchemeRule>> = {
  postgres: { family: "postgres", port: 5432, multiHost: true, tls: false },
  postgresql: { family: "postgres", port: 5432, multiHost: true, tls: false },
  mysql: { family: "mysql", port: 3306, multiHost: false, tls: false },
  mysql2: { family: "mysql", port: 3306, multiHost: false, tls: false },
  mariadb: { family: "mysql", port: 3306, multiHost: false, tls: false },
  redis: { family: "redis", port: 6379, multiHost: false, tls: false },
  rediss: { family: "redis", port: 6379, multiHost: false, tls: true },
  amqp: { family: "amqp", port: 5672, multiHost: false, tls: false },
  amqps: { family: "amqp", port: 5671, multiHost: false, tls: true },
  mongodb: { family: "mongodb", port: 27017, multiHost: true, tls: false },
  "mongodb+srv": { family: "mongodb", port: undefined, multiHost: false, tls: true },
};

/**
 * Host names of values written before the real one exists, and names reserved for examples (RFC 2606).
 * Not `host` or `db`: those are real names in docker compose setups and local runs.
 */
const PLACEHOLDER_HOSTS = /^(placeholder|pending|provisioning|changeme|your[-_]?host(name)?)$|(^|\.)(example(\.(com|net|org))?|invalid)$/i;

function placeholderHost(host: string): string {
  return /(^|\.)(example(\.(com|net|org))?|invalid)$/i.test(host)
    ? `its host "${host}" is a name reserved for examples and documentation`
    : `its host "${host}" is a placeholder word`;
}

/** Letters and digits of any script, `.`, `-`, and `_` (docker compose service names hold it). */
const HOST_NAME = /^[\p{L}\p{N}_.-]+$/u;
/** The common case, tested first: compiling a Unicode property class costs a fraction of a millisecond at boot. */
const ASCII_HOST_NAME = /^[A-Za-z0-9_.-]+$/;

function isHostName(host: string): boolean {
  return ASCII_HOST_NAME.test(host) || HOST_NAME.test(host);
}

const URL_HINT =
  "Check the value with `heroku config:get <VAR>`. Characters other than letters, digits and `-._~` in the user " +
  "name, password or database name must be percent-encoded: `@` as %40, `:` as %3A, `/` as %2F, `#` as %23, `%` as %25.";
const PLACEHOLDER_HINT =
  "The add-on that sets it may still be provisioning (JawsDB, for one, holds a placeholder for a few minutes): wait for it with `heroku addons:wait`, " +
  "then restart the dynos with `heroku ps:restart`.";

export function isConnectionScheme(scheme: string): scheme is ConnectionScheme {
  return Object.hasOwn(RULES, scheme);
}

/** The supported scheme a value starts with, lowercased (schemes are case-insensitive), or undefined. */
export function connectionSchemeOf(value: string): ConnectionScheme | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value)?.[1]?.toLowerCase();
  return scheme !== undefined && isConnectionScheme(scheme) ? scheme : undefined;
}

/**
 * Why a `*_URL` value is no connection URL at all, for `execpackctl env`: it names the scheme, never the rest
 * (a value that is not a URL may be a bare password). Undefined when it starts with a connection scheme.
 */
export function whyNotConnectionUrl(value: string): string | undefined {
  if (connectionSchemeOf(value) !== undefined) return undefined;
  if (value.trim() === "") return "it is empty";
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1];
  if (scheme === undefined) return 'it is not a URL (no "scheme://" at its start)';
  return `its scheme "${scheme}" is not a database, cache or broker one execpack knows (${CONNECTION_SCHEMES.join(", ")})`;
}

/**
 * Errors name the variable and show only the scheme and the host: anything else in a malformed URL may be a
 * piece of the password (an unencoded `/` moves the password into the "port" or the "path").
 */
class Reporter {
  readonly variable: string;
  scheme: ConnectionScheme | undefined;
  host: string | undefined;
  constructor(variable: string) {
    this.variable = variable;
  }
  private seen(): string[] {
    if (this.scheme === undefined) return [`${this.variable}: not a connection URL`];
    const host = this.host === undefined ? "" : `, host "${this.host}"`;
    return [`${this.variable}: scheme "${this.scheme}"${host}`];
  }
  invalid(reason: string): ExecpackError {
    const summary = `${this.variable} is not a valid connection URL: ${reason}`;
    return new ExecpackError("env.invalid-url", summary, { seen: this.seen(), hint: URL_HINT.replace("<VAR>", this.variable) });
  }
  /** `why` says what gave it away: no host, or a host name reserved for examples (RFC 2606). */
  placeholder(why: string): ExecpackError {
    const summary = `${this.variable} holds a placeholder, not the address of a server yet: ${why}`;
    return new ExecpackError("env.url-placeholder", summary, { seen: this.seen(), hint: PLACEHOLDER_HINT });
  }
}

interface UrlParts { scheme: ConnectionScheme; userinfo: string | undefined; hostList: string; path: string; query: string }

/**
 * Splits `scheme://userinfo@hosts/path?query` (RFC 3986, appendix B). The user info runs to the last `@` of the
 * authority, as in WHATWG URL, so an unencoded `@` in a password still works.
 */
function splitUrl(value: string, report: Reporter): UrlParts {
  if (value === "") throw report.invalid("it is empty");
  const wrapped = /^[\s"']|[\s"']$/.exec(value)?.[0];
  if (wrapped !== undefined) {
    report.scheme = connectionSchemeOf(value.replace(/^[\s"']+/, ""));
    throw report.invalid(
      /["']/.test(wrapped)
        ? "it is wrapped in quotes, which became part of the value: set it again without them"
        : "it starts or ends with whitespace (a paste accident): set it again without",
    );
  }
  const scheme = connectionSchemeOf(value);
  if (scheme === undefined) throw report.invalid(`it does not start with one of ${CONNECTION_SCHEMES.join(", ")} and "://"`);
  report.scheme = scheme;
  // Whitespace and control characters are paste accidents (a trailing newline); WHATWG would silently drop some.
  // \p{Cc} spelled out (U+0000–001F, U+007F–009F): the same class, without a Unicode table to build at boot.
  if (/[\s\x00-\x1f\x7f-\x9f]/.test(value)) throw report.invalid("it contains whitespace or control characters");
  const match = /^[^:]+:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/.exec(value);
  if (match === null) throw report.invalid(`"${scheme}:" is not followed by "//"`);
  const [, authority = "", path = "", query = "", fragment] = match;
  if (fragment !== undefined) throw report.invalid('it holds a "#" (write it as %23 in a password)');
  const at = authority.lastIndexOf("@");
  // An `@` after the authority is the tell-tale of a password with an unencoded `/` or `?`.
  if (path.includes("@") || (at === -1 && query.includes("@"))) {
    throw report.invalid('the user name or password holds an unencoded "/" or "?"');
  }
  return {
    scheme,
    userinfo: at === -1 ? undefined : authority.slice(0, at),
    hostList: authority.slice(at + 1),
    path,
    query,
  };
}

function decode(text: string, what: string, report: Reporter): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // decodeURIComponent throws only URIError: a "%" without two hex digits, or bytes that are not UTF-8.
    throw report.invalid(`the ${what} holds a "%" that is not followed by two hex digits, or encodes bytes that are not UTF-8`);
  }
}

/** The text after the host's `:`, or "". An IPv6 host is bracketed and holds colons of its own. */
function portText(hostPort: string): string {
  const bracketEnd = hostPort.indexOf("]");
  if (hostPort.startsWith("[") && bracketEnd === -1) return ""; // WHATWG URL reports the broken IPv6 literal
  const colon = hostPort.indexOf(":", hostPort.startsWith("[") ? bracketEnd : 0);
  return colon === -1 ? "" : hostPort.slice(colon + 1);
}

function parseHostPort(text: string, rule: SchemeRule, report: Reporter): HostPort {
  if (text === "" || text.startsWith(":")) throw report.placeholder("it has no host");
  // The port is checked first and by hand, so its error can say "port" without echoing it.
  const port = parsePort(portText(text), rule, report);
  // A plain host name is what WHATWG URL would give back unchanged (none of these schemes is "special", so the
  // host is opaque: not lowercased, not IDNA-mapped): taken as it is, it spares the boot WHATWG URL's first use.
  const colon = text.indexOf(":");
  const plain = colon === -1 ? text : text.slice(0, colon);
  if (ASCII_HOST_NAME.test(plain)) {
    report.host ??= plain;
    return { host: plain, port };
  }
  let url: URL;
  try {
    url = new URL(`${report.scheme ?? "x"}://${text}`);
  } catch {
    // WHATWG URL throws a TypeError for a forbidden host character or a bad IPv6 literal.
    throw report.invalid("the host is not a host name or a bracketed IPv6 address");
  }
  const isIpv6 = url.hostname.startsWith("[");
  const host = isIpv6 ? url.hostname.slice(1, -1) : decode(url.hostname, "host", report);
  const isSocketDir = rule.family === "postgres" && host.startsWith("/");
  if (!isIpv6 && !isSocketDir && !isHostName(host)) {
    throw report.invalid("the host holds characters a host name cannot have");
  }
  report.host ??= host;
  return { host, port };
}

function parsePort(text: string, rule: SchemeRule, report: Reporter): number | undefined {
  if (text === "") return rule.port;
  if (rule.port === undefined) throw report.invalid(`a ${report.scheme ?? ""} URL takes no port: DNS SRV records give it`);
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw report.invalid("the port must be a number from 1 to 65535");
  return port;
}

function parseHosts(hostList: string, rule: SchemeRule, report: Reporter): HostList {
  if (hostList === "") throw report.placeholder("it has no host");
  const items = hostList.split(",");
  if (items.length > 1 && !rule.multiHost) throw report.invalid(`a ${report.scheme ?? ""} URL takes a single host`);
  if (items.length > 1 && items.includes("")) throw report.invalid("the host list has an empty entry");
  const [first, ...rest] = items.map((item) => parseHostPort(item, rule, report));
  if (first === undefined) throw report.placeholder("it has no host");
  if (PLACEHOLDER_HOSTS.test(first.host)) throw report.placeholder(placeholderHost(first.host));
  return [first, ...rest];
}

/**
 * libpq's `?host=` (and `?port=`) replace the authority's hosts: `postgres:///db?host=/var/run/postgresql` is
 * how a Unix socket directory is written. Both may be comma-separated lists; one port applies to every host.
 */
function postgresQueryHosts(params: Params, rule: SchemeRule, report: Reporter): HostList | undefined {
  const hostParam = params["host"];
  if (hostParam === undefined) return undefined;
  const hosts = hostParam.split(",");
  const ports = (params["port"] ?? "").split(",");
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw report.invalid("the host and port parameters list different numbers of entries");
  }
  const parsed = hosts.map((host, index): HostPort => {
    if (host === "") throw report.placeholder("it has no host");
    if (!host.startsWith("/") && !isHostName(host)) throw report.invalid("the host parameter holds characters a host name cannot have");
    report.host ??= host;
    return { host, port: parsePort(ports[ports.length === 1 ? 0 : index] ?? "", rule, report) };
  });
  const [first, ...rest] = parsed;
  return first === undefined ? undefined : [first, ...rest];
}

function parseUserinfo(userinfo: string | undefined, report: Reporter): { user: string | undefined; password: string | undefined } {
  if (userinfo === undefined) return { user: undefined, password: undefined };
  const colon = userinfo.indexOf(":");
  if (colon === -1) return { user: decode(userinfo, "user name", report), password: undefined };
  return {
    user: decode(userinfo.slice(0, colon), "user name", report),
    password: decode(userinfo.slice(colon + 1), "password", report),
  };
}

function parseQuery(query: string, report: Reporter): Record<string, string> {
  const entries: [string, string][] = [];
  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), "query", report);
    entries.push([key, eq === -1 ? "" : decode(pair.slice(eq + 1), "query", report)]);
  }
  // fromEntries defines own properties, so a `__proto__` key is plain data, not a prototype.
  return Object.fromEntries(entries);
}

/** The path's meaning differs by family: database name, redis index, RabbitMQ vhost. */
function parseDatabase(path: string, rule: SchemeRule, report: Reporter): string | undefined {
  const raw = path.startsWith("/") ? path.slice(1) : path;
  switch (rule.family) {
    case "redis": {
      if (raw === "") return "0";
      if (!/^\d+$/.test(raw)) throw report.invalid("the path of a redis URL must be a database number such as /0");
      return raw;
    }
    case "amqp": {
      // RabbitMQ's URI spec makes `amqp://host/` the empty vhost "", but no server has one and clients
      // disagree (Spring maps "" to "/"): no path and a lone "/" both mean the default vhost "/".
      if (raw === "") return "/";
      if (raw.includes("/")) throw report.invalid('the vhost holds an unencoded "/" (write it as %2F)');
      return decode(raw, "vhost", report);
    }
    default:
      return raw === "" ? undefined : decode(raw, "database name", report);
  }
}

const TLS_SSLMODES = new Set(["require", "verify-ca", "verify-full"]);
const TLS_MYSQL_MODES = new Set(["required", "verify_ca", "verify_identity"]);

function wantsTls(rule: SchemeRule, params: Params): boolean {
  const flag = (params["tls"] ?? params["ssl"])?.toLowerCase();
  if (flag === "true") return true;
  // mongodb+srv turns TLS on by default, and the URL may turn it off; rediss and amqps cannot.
  if (flag === "false" && rule.family === "mongodb") return false;
  if (rule.tls) return true;
  if (rule.family === "postgres") return TLS_SSLMODES.has((params["sslmode"] ?? "").toLowerCase());
  if (rule.family === "mysql") return TLS_MYSQL_MODES.has((params["ssl-mode"] ?? params["sslMode"] ?? "").toLowerCase());
  return false;
}

/**
 * Parses one connection URL. Every failure is an ExecpackError: `env.url-placeholder` when there is no host
 * (or an obvious placeholder one), `env.invalid-url` for anything else; messages never hold the password.
 */
export function parseConnectionUrl(value: string, variable: string): ConnectionInfo {
  const report = new Reporter(variable);
  const parts = splitUrl(value, report);
  const scheme = parts.scheme;
  const rule = RULES[scheme];
  const params = parseQuery(parts.query, report);
  const queryHosts = rule.family === "postgres" ? postgresQueryHosts(params, rule, report) : undefined;
  const hosts = queryHosts ?? parseHosts(parts.hostList, rule, report);
  const { user, password } = parseUserinfo(parts.userinfo, report);
  const database = parseDatabase(parts.path, rule, report);
  return { scheme, hosts, user, password, database, params, tls: wantsTls(rule, params) };
}

export interface DerivedVariable {
  readonly value: string;
  /** The config var it comes from, e.g. "DATABASE_URL". */
  readonly source: string;
  readonly secret: boolean;
}

export interface Derivation {
  readonly variables: Map<string, DerivedVariable>;
  /** Derived name → why it could not be derived; thrown only when something references that name. */
  readonly problems: Map<string, ExecpackError>;
  /** One per malformed or placeholder URL: worth a warning even when nothing references it. */
  readonly warnings: ExecpackError[];
  /** The same errors by the URL's variable, for `execpackctl env` to say why that URL derived nothing. */
  readonly failed: Map<string, ExecpackError>;
}

const COMMON_SUFFIXES = ["_HOST", "_PORT", "_USER", "_PASSWORD", "_NAME", "_ADDRESS", "_SCHEME", "_HOSTS", "_TLS"];

/** The suffixes a URL of this scheme derives, known before parsing so a bad URL can claim them all. */
export function derivedSuffixes(scheme: ConnectionScheme): string[] {
  const family = RULES[scheme].family;
  const suffixes = COMMON_SUFFIXES.filter((suffix) => suffix !== "_PORT" || scheme !== "mongodb+srv");
  if (family === "mysql") suffixes.push("_DSN");
  if (family === "mysql" || family === "postgres") suffixes.push("_JDBC_URL");
  return suffixes;
}

export function formatAddress({ host, port }: HostPort): string {
  const bracketed = host.includes(":") ? `[${host}]` : host;
  return port === undefined ? bracketed : `${bracketed}:${port}`;
}

/**
 * go-sql-driver/mysql's DSN. The password goes in raw (the driver splits at the last `@` and the first `:`),
 * the database name path-escaped (the driver unescapes it). The URL's other query parameters are left out:
 * the driver sends unknown ones as `SET` statements, so ClearDB's `reconnect=true` would fail every connection.
 */
function goMysqlDsn(info: ConnectionInfo): string {
  const password = info.password === undefined ? "" : `:${info.password}`;
  const credentials = info.user || info.password ? `${info.user ?? ""}${password}@` : "";
  const tls = info.tls ? "?tls=true" : "";
  return `${credentials}tcp(${formatAddress(info.hosts[0])})/${encodeURIComponent(info.database ?? "")}${tls}`;
}

/**
 * A JDBC URL without credentials: Java apps and connection pools log their JDBC URL, and JDBC takes user and
 * password as separate properties (`_USER`, `_PASSWORD`). Undefined for a Unix socket, which JDBC cannot reach.
 */
function jdbcUrl(info: ConnectionInfo): string | undefined {
  if (info.hosts.some(({ host }) => host.startsWith("/"))) return undefined;
  const subprotocol = RULES[info.scheme].family === "postgres" ? "postgresql" : info.scheme === "mariadb" ? "mariadb" : "mysql";
  // libpq's host and port parameters are in the host list already.
  const params = Object.entries(info.params).filter(([key]) => key !== "host" && key !== "port");
  const pairs = params.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  const query = pairs.length === 0 ? "" : `?${pairs.join("&")}`;
  const hosts = info.hosts.map(formatAddress).join(",");
  return `jdbc:${subprotocol}://${hosts}/${encodeURIComponent(info.database ?? "")}${query}`;
}

/** Suffix → [value, secret]. Absent parts derive as "" so a binary.env reference never dangles by accident. */
function derivedValues(info: ConnectionInfo): Map<string, [string, boolean]> {
  const first = info.hosts[0];
  const family = RULES[info.scheme].family;
  // Heroku Redis used to write `redis://h:pass@host`: "h" was a filler, not a Redis 6 ACL user, and sending
  // it as a user makes AUTH fail. Clients ignore it; so do we.
  const user = family === "redis" && info.user === "h" ? "" : (info.user ?? "");
  const values = new Map<string, [string, boolean]>([
    ["_HOST", [first.host, false]],
    ["_USER", [user, false]],
    ["_PASSWORD", [info.password ?? "", true]],
    ["_NAME", [info.database ?? "", false]],
    ["_ADDRESS", [formatAddress(first), false]],
    ["_SCHEME", [info.scheme, false]],
    ["_HOSTS", [info.hosts.map(formatAddress).join(","), false]],
    ["_TLS", [String(info.tls), false]],
  ]);
  if (first.port !== undefined) values.set("_PORT", [String(first.port), false]);
  if (family === "mysql") values.set("_DSN", [goMysqlDsn(info), true]);
  const jdbc = family === "mysql" || family === "postgres" ? jdbcUrl(info) : undefined;
  if (jdbc !== undefined) values.set("_JDBC_URL", [jdbc, Object.keys(info.params).some(isSecretName)]);
  return values;
}

interface UrlVariable { variable: string; base: string; value: string; scheme: ConnectionScheme }

/** `<BASE>_URL` and `<BASE>_URI` with a supported scheme; a `_URI` only when its `_URL` twin is not one. */
function connectionUrlVariables(env: Readonly<Record<string, string | undefined>>): UrlVariable[] {
  const found: UrlVariable[] = [];
  for (const [variable, value] of Object.entries(env)) {
    // The name first: a dyno has dozens of variables and only a few URLs.
    const match = /^(.+)_(URL|URI)$/.exec(variable);
    if (match?.[1] === undefined || value === undefined) continue;
    // A URL behind a space or a quote (a paste accident, or quotes `heroku config:set` kept) is still one: its
    // derived names get a problem instead of being left unset, which binary.env would expand to "".
    const scheme = connectionSchemeOf(value) ?? connectionSchemeOf(value.replace(/^[\s"']+/, ""));
    if (scheme !== undefined) found.push({ variable, base: match[1], value, scheme });
  }
  const urls = new Set(found.filter(({ variable }) => variable.endsWith("_URL")).map(({ base }) => base));
  return found.filter(({ variable, base }) => variable.endsWith("_URL") || !urls.has(base));
}

/**
 * Derives `<BASE>_HOST`, `_PORT`, ... for every connection URL in `env`. A name already set in `env` is never
 * derived. A bad URL does not throw: its names get a problem, thrown later only if something references them.
 */
export function deriveVariables(env: Readonly<Record<string, string | undefined>>): Derivation {
  const derivation: Derivation = { variables: new Map(), problems: new Map(), warnings: [], failed: new Map() };
  const isSet = (name: string): boolean => Object.hasOwn(env, name) && env[name] !== undefined;
  for (const { variable, base, value, scheme } of connectionUrlVariables(env)) {
    try {
      for (const [suffix, [derived, secret]] of derivedValues(parseConnectionUrl(value, variable))) {
        const name = `${base}${suffix}`;
        if (!isSet(name)) derivation.variables.set(name, { value: derived, source: variable, secret });
      }
    } catch (error) {
      if (!isExecpackError(error)) throw error;
      derivation.warnings.push(error);
      derivation.failed.set(variable, error);
      for (const suffix of derivedSuffixes(scheme)) {
        if (!isSet(`${base}${suffix}`)) derivation.problems.set(`${base}${suffix}`, error);
      }
    }
  }
  return derivation;
}
