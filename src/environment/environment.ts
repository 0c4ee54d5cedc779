/**
 * The environment the binary gets: exactly the config vars, the variables derived from their connection URLs,
 * and the app's binary.env expanded over both. Pure: the caller reads process.env and the file.
 *
 * binary.env is dotenv syntax, read here rather than by dotenv's `parse`, which drops bad lines silently and
 * keeps neither line numbers nor quote kinds. Differences from dotenv, each for a reason:
 * - `'single'` and `` `back` `` quotes are literal; `"double"` quotes and unquoted values expand `$NAME`,
 *   `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `${NAME?message}` (as dotenv-expand
 *   and docker compose do). `\$` is a literal `$`. Double quotes also know `\n \r \t \" \\`.
 * - An unquoted `#` starts a comment only at the value's start or after whitespace (dotenv cuts at any `#`),
 *   so `PASS=a#b` and `URL=https://x/#/a` survive.
 * - A line that is not `NAME=VALUE`, a name that is not a shell name, an unclosed quote are errors, not skipped.
 */
import { deriveVariables, whyNotConnectionUrl } from "./connection-url.js";
import type { Derivation } from "./connection-url.js";
import { ExecpackError, isExecpackError } from "../common/errors.js";
import { SECRET_MASK, isSecretName, isSecretValue, maskUrlValue } from "../common/secrets.js";
import { escapeControl, escapeLayout, hasControl } from "../common/output.js";

/** `execpack`: what the boot sets for the program itself (its PATH, LD_LIBRARY_PATH, BINARY_HOME), shown by `execpackctl env`. */
export type Origin = { kind: "config" } | { kind: "derived"; from: string } | { kind: "binary.env"; line: number } | { kind: "execpack" };

/** A binary.env line that was not applied, for `execpackctl env`. */
export interface SkippedLine { name: string; line: number; reason: "config-var-set" | "internal" }
/** `${NAME}` of a name defined nowhere: it expands to "" as in a shell, and `execpackctl check` reports it. */
export interface UndefinedReference { name: string; line: number }
/** A binary.env line that failed, when resolving with `collectProblems`. */
export interface LineProblem { line: number; error: ExecpackError }

export interface ResolvedEnvironment {
  env: Record<string, string>;
  origins: Map<string, Origin>;
  /** Names whose value must be masked: passwords, secret-looking names, URLs with a password, values built from those. */
  secrets: Set<string>;
  skipped: SkippedLine[];
  undefinedReferences: UndefinedReference[];
  /** With `collectProblems`: every binary.env line that failed, in file order (otherwise the first one throws). */
  problems: LineProblem[];
  /** Malformed or placeholder connection URLs nothing referenced: the boot goes on, but say so. */
  warnings: ExecpackError[];
  /** The URL variables of `warnings`, each with its error: `execpackctl env` says why they derived nothing. */
  failedUrls: ReadonlyMap<string, ExecpackError>;
}

export interface EnvironmentInput {
  configVars: Readonly<Record<string, string | undefined>>;
  binaryEnv?: { text: string; path: string };
  /**
   * Work out which values are secrets (default true). Only `execpackctl env` shows values; the boot passes
   * false and skips the masking work, which would be a good part of its start-up time.
   */
  trackSecrets?: boolean;
  /**
   * Go on past a binary.env line that fails, as `execpackctl check` does to report every problem in one run:
   * the error joins `problems`, the line sets nothing, and a line that uses its variable is passed over
   * without a second report. The boot stops at the first failure (the default).
   */
  collectProblems?: boolean;
  /** The derivation of `configVars`, when the caller needed it first (the profile step): not worked out twice. */
  derivation?: Derivation;
  /**
   * Filled with every name a binary.env line looked up: the result depends on those variables, so the profile
   * step records them for the launcher to check (boot/profile.ts).
   */
  references?: Set<string>;
}

/**
 * Variables execpack's own scripts set for themselves (`.profile.d`, the launcher). They are bookkeeping, not
 * configuration: the binary never sees them, binary.env cannot set or read them, and no URL is derived from them.
 */
const INTERNAL_PREFIX = "EXECPACK_INTERNAL_";
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SYNTAX_HINT =
  "binary.env takes one NAME=VALUE per line (dotenv syntax). Quote values that hold spaces, close every quote, " +
  "and write substitutions as ${NAME}, ${NAME:-default} or ${NAME:?message}.";

type Quote = "none" | "single" | "double" | "backtick";
interface Entry { name: string; line: number; quote: Quote; raw: string }

function syntaxError(path: string, line: number, what: string): ExecpackError {
  return new ExecpackError("env.binary-env-syntax", `${path} line ${line} ${what}`, { seen: [`${path}:${line}`], hint: SYNTAX_HINT });
}

const QUOTES: Readonly<Record<string, Quote>> = { "'": "single", '"': "double", "`": "backtick" };

function endOfLine(source: string, from: number): number {
  const end = source.indexOf("\n", from);
  return end === -1 ? source.length : end;
}

function countNewlines(text: string): number {
  return text.split("\n").length - 1;
}

/** The closing quote's index; inside double quotes a backslash escapes the next character. */
function closingQuote(source: string, from: number, quote: string): number {
  for (let i = from; i < source.length; i++) {
    const char = source.charAt(i);
    if (char === "\\" && quote === '"') i++;
    else if (char === quote) return i;
  }
  return -1;
}

/** An unquoted value ends at the line's end or at a `#` after whitespace, but not inside `${...}`. */
function unquotedEnd(source: string, from: number, lineEnd: number): number {
  let depth = 0;
  for (let i = from; i < lineEnd; i++) {
    const char = source.charAt(i);
    if (char === "\\") i++;
    else if (char === "$" && source.charAt(i + 1) === "{") {
      depth++;
      i++;
    } else if (char === "}" && depth > 0) depth--;
    else if (char === "#" && depth === 0 && (i === from || /\s/.test(source.charAt(i - 1)))) return i;
  }
  return lineEnd;
}

/** Reads the entry starting at `start`, or why it cannot be read; and where the next line begins. */
function readEntry(source: string, start: number, line: number, path: string): { entry: Entry | ExecpackError; next: number } {
  const lineEnd = endOfLine(source, start);
  const head = /^[ \t]*(?:export[ \t]+)?([^=\s]*)[ \t]*=[ \t]*/.exec(source.slice(start, lineEnd));
  if (head === null) return { entry: syntaxError(path, line, "is not NAME=VALUE"), next: lineEnd + 1 };
  const name = head[1] ?? "";
  // The invalid name is not echoed: a pasted URL or secret can end up before the "=".
  if (!NAME.test(name)) {
    const what = "does not start with a valid name (letters, digits and _, not starting with a digit)";
    return { entry: syntaxError(path, line, what), next: lineEnd + 1 };
  }
  const valueStart = start + head[0].length;
  const quote = QUOTES[source.charAt(valueStart)];
  if (quote === undefined) {
    const end = unquotedEnd(source, valueStart, lineEnd);
    return { entry: { name, line, quote: "none", raw: source.slice(valueStart, end).trimEnd() }, next: lineEnd + 1 };
  }
  const close = closingQuote(source, valueStart + 1, source.charAt(valueStart));
  // The rest of the file is read as lines again: most likely only the closing quote is missing.
  if (close === -1) return { entry: syntaxError(path, line, `opens a quote for ${name} that is never closed`), next: lineEnd + 1 };
  const raw = source.slice(valueStart + 1, close);
  const restEnd = endOfLine(source, close + 1);
  if (!/^\s*(#.*)?$/.test(source.slice(close + 1, restEnd))) {
    return { entry: syntaxError(path, line + countNewlines(raw), `has text after the closing quote of ${name}`), next: restEnd + 1 };
  }
  return { entry: { name, line, quote, raw }, next: restEnd + 1 };
}

/** The entries of binary.env; a syntax error throws, or with `report` is reported and its line passed over. */
function parseBinaryEnv(text: string, path: string, report?: (problem: LineProblem) => void): Entry[] {
  const source = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const entries: Entry[] = [];
  let line = 1;
  for (let pos = 0; pos < source.length; ) {
    const lineEnd = endOfLine(source, pos);
    let next = lineEnd + 1;
    if (!/^\s*(#|$)/.test(source.slice(pos, lineEnd))) {
      const read = readEntry(source, pos, line, path);
      if (read.entry instanceof ExecpackError) {
        if (report === undefined) throw read.entry;
        report({ line, error: read.entry });
      } else {
        entries.push(read.entry);
      }
      next = read.next;
    }
    line += countNewlines(source.slice(pos, next));
    pos = next;
  }
  return entries;
}

/** What expansion of one binary.env line can see, and what it learns (secrecy, dangling names). */
interface Scope {
  readonly values: ReadonlyMap<string, string>;
  readonly secrets: ReadonlySet<string>;
  readonly problems: ReadonlyMap<string, ExecpackError>;
  readonly undefinedReferences: UndefinedReference[];
  /** Names whose binary.env line failed (only when collecting problems): a use of one is no new problem. */
  readonly failed: ReadonlySet<string>;
  readonly references: Set<string> | undefined;
  readonly path: string;
  readonly entry: Entry;
  /** Set once a secret value flows into this line's value. */
  secret: boolean;
}

/**
 * A set name gives its value. A derived name whose URL is broken throws that URL's error even under `:-`:
 * a default must not quietly replace the database the add-on says to use (a JawsDB placeholder, for one).
 */
function lookup(name: string, scope: Scope): string | undefined {
  scope.references?.add(name);
  if (scope.failed.has(name)) throw new UsesFailedLine();
  const value = scope.values.get(name);
  if (value !== undefined) {
    if (scope.secrets.has(name) && value !== "") scope.secret = true;
    return value;
  }
  const problem = scope.problems.get(name);
  if (problem === undefined) return undefined;
  const where = `${scope.path} line ${scope.entry.line}`;
  throw new ExecpackError(problem.code, `${where} needs ${name}, but ${problem.message}`, {
    seen: [...problem.seen, `${scope.path}:${scope.entry.line}: ${scope.entry.name} uses \${${name}}`],
    hint: problem.hint,
    cause: problem,
  });
}

/** Thrown while collecting problems when a line uses a variable whose own line failed, which is reported already. */
class UsesFailedLine extends Error {}

/** The app's own message says what the value is; how to set it is ours to add, unless the message says it. */
function requiredHint(name: string, message: string): string {
  const own = message.trim() === "" ? [] : [message.trim().replace(/(?<![.!?])$/, ".")];
  const how = /config:set/.test(message) ? [] : [`Set it with \`heroku config:set ${name}=...\`.`];
  return [...own, ...how].join(" ");
}

function requiredError(name: string, operator: string, message: string, scope: Scope): ExecpackError {
  const { path, entry } = scope;
  const state = operator === ":?" ? "is empty or not set" : "is not set";
  // The message is the author's text from the file, shown as written: it never holds a value.
  return new ExecpackError("env.required", `${name} ${state}, and ${path} line ${entry.line} requires it`, {
    seen: [`${path}:${entry.line}: ${entry.name} uses \${${name}${operator}...}`],
    hint: requiredHint(name, message),
  });
}

/** The index of the `}` that closes a `${` whose body starts at `from`, or -1. */
function matchingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const char = text.charAt(i);
    if (char === "\\") i++;
    else if (char === "$" && text.charAt(i + 1) === "{") {
      depth++;
      i++;
    } else if (char === "}" && --depth === 0) return i;
  }
  return -1;
}

/**
 * A piece of a binary.env value as expansion reads it: literal text, a `$NAME` or `${NAME}` reference, or a
 * `${NAME<operator>word}` whose word is expanded (`-`) or shown (`?`) only when NAME is missing. Read whole before
 * anything is looked up, so the build can turn a file into a plan the dyno's shell applies (planBinaryEnv,
 * launchers/execpack-profile-step).
 */
export type Piece =
  | { kind: "text"; text: string }
  | { kind: "ref"; name: string }
  | { kind: "op"; name: string; operator: ":-" | "-" | ":?" | "?"; word: string };

/** Where a value comes from, for its syntax errors. */
interface Site { readonly path: string; readonly entry: Entry }

function bracedPiece(body: string, site: Site): Piece {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([\s\S]*))?$/.exec(body);
  const name = match?.[1];
  if (match === null || name === undefined) {
    const what = `has a substitution in ${site.entry.name} that is not \${NAME}, \${NAME:-default} or \${NAME:?message}`;
    throw syntaxError(site.path, site.entry.line, what);
  }
  const [, , operator, word = ""] = match;
  return operator === undefined ? { kind: "ref", name } : { kind: "op", name, operator: operator as ":-" | "-" | ":?" | "?", word };
}

const DOUBLE_QUOTE_ESCAPES: Readonly<Record<string, string>> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

function unescape(char: string, quote: Quote): string {
  if (char === "$" || char === "}") return char;
  return (quote === "double" ? DOUBLE_QUOTE_ESCAPES[char] : undefined) ?? `\\${char}`;
}

/**
 * The pieces of a double-quoted or unquoted value: `\` escapes, `$NAME`, `${...}`, and a lone `$` kept as is
 * (`$5`, `a$`, as a shell does). Adjacent text is one piece.
 */
export function valuePieces(text: string, quote: Quote, site: Site): Piece[] {
  const pieces: Piece[] = [];
  let literal = "";
  const push = (piece: Piece): void => {
    if (literal !== "") pieces.push({ kind: "text", text: literal });
    literal = "";
    pieces.push(piece);
  };
  for (let i = 0; i < text.length; i++) {
    const char = text.charAt(i);
    if (char === "\\" && i + 1 < text.length) {
      literal += unescape(text.charAt(++i), quote);
      continue;
    }
    if (char !== "$") {
      literal += char;
      continue;
    }
    const simple = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
    if (simple !== undefined) {
      push({ kind: "ref", name: simple });
      i += simple.length;
    } else if (text.charAt(i + 1) !== "{") {
      literal += "$";
    } else {
      const close = matchingBrace(text, i + 2);
      if (close === -1) throw syntaxError(site.path, site.entry.line, `has a "\${" without its "}" in ${site.entry.name}`);
      push(bracedPiece(text.slice(i + 2, close), site));
      i = close;
    }
  }
  if (literal !== "") pieces.push({ kind: "text", text: literal });
  return pieces;
}

function reference(name: string, scope: Scope): string {
  const value = lookup(name, scope);
  if (value !== undefined) return value;
  scope.undefinedReferences.push({ name, line: scope.entry.line });
  return "";
}

function expand(text: string, quote: Quote, scope: Scope): string {
  let out = "";
  for (const piece of valuePieces(text, quote, scope)) {
    if (piece.kind === "text") {
      out += piece.text;
    } else if (piece.kind === "ref") {
      out += reference(piece.name, scope);
    } else {
      const value = lookup(piece.name, scope);
      const missing = value === undefined || (piece.operator.startsWith(":") && value === "");
      if (!missing) out += value;
      else if (piece.operator.endsWith("-")) out += expand(piece.word, quote, scope);
      else throw requiredError(piece.name, piece.operator, piece.word, scope);
    }
  }
  return out;
}

/** A binary.env line as the dyno's shell applies it (boot/profile-plan.ts): every `-` default's word is literal. */
export interface PlannedLine { name: string; pieces: Piece[] }

/** binary.env as the build reads it, before any config var is known. */
export interface BinaryEnvPlan {
  /**
   * The lines the profile step's shell path applies without Node.js (EXECPACK_INTERNAL_* left out: the boot never
   * applies them), or undefined when one needs more than a plan holds: a syntax error, a default that is itself
   * expanded (`${A:-${B}}`), a NUL. Whether a config var is set, and every value, is for the boot to see.
   */
  lines: PlannedLine[] | undefined;
  /** Every syntax error, in line order, each line's substitutions included: every boot would stop on them. */
  problems: LineProblem[];
}

/** One entry's pieces, each `-` default's word literal; undefined when a default holds a substitution. Throws a syntax error. */
function plannedPieces(entry: Entry, path: string): Piece[] | undefined {
  if (entry.quote === "single" || entry.quote === "backtick") return entry.raw === "" ? [] : [{ kind: "text", text: entry.raw }];
  const site = { path, entry };
  let literalDefaults = true;
  const pieces = valuePieces(entry.raw, entry.quote, site).map((piece): Piece => {
    if (piece.kind !== "op") return piece;
    // A `?` operator's word is the error's message: the boot that reports it is Node.js's.
    const word = piece.operator.endsWith("-") ? valuePieces(piece.word, entry.quote, site) : [];
    literalDefaults &&= word.every((part) => part.kind === "text");
    return { ...piece, word: word.map((part) => (part.kind === "text" ? part.text : "")).join("") };
  });
  return literalDefaults ? pieces : undefined;
}

/** Reads binary.env once for the build: the shell path's plan and the syntax errors to warn about. */
export function planBinaryEnv(text: string, path: string): BinaryEnvPlan {
  const problems: LineProblem[] = [];
  const lines: PlannedLine[] = [];
  let plannable = true;
  const report = (problem: LineProblem): void => {
    problems.push(problem);
    plannable = false;
  };
  for (const entry of parseBinaryEnv(text, path, report)) {
    // An EXECPACK_INTERNAL_* line is reported like any other, but the boot never applies it: nor does the plan.
    const applied = !entry.name.startsWith(INTERNAL_PREFIX);
    let pieces: Piece[] | undefined;
    try {
      pieces = plannedPieces(entry, path);
    } catch (error) {
      if (!isExecpackError(error)) throw error;
      problems.push({ line: entry.line, error });
      plannable &&= !applied;
      continue;
    }
    if (!applied) continue;
    if (pieces === undefined) plannable = false;
    else lines.push({ name: entry.name, pieces });
  }
  // The shell's fields are NUL-terminated: a value holding a NUL stays with Node.js, which passes on what it can.
  const texts = lines.flatMap(({ pieces }) => pieces.map((piece) => (piece.kind === "text" ? piece.text : piece.kind === "op" ? piece.word : "")));
  if (texts.some((text) => text.includes("\0"))) plannable = false;
  return { lines: plannable ? lines : undefined, problems: problems.sort((a, b) => a.line - b.line) };
}

/** A value holding a URL credential (user info, or a secret-named query parameter), whole or inside text. */
function hasUrlPassword(value: string): boolean {
  return maskUrlValue(value) !== value;
}

interface State {
  values: Map<string, string>;
  origins: Map<string, Origin>;
  secrets: Set<string>;
  trackSecrets: boolean;
}

function define(state: State, name: string, value: string, origin: Origin, secret: boolean): void {
  state.values.set(name, value);
  state.origins.set(name, origin);
  if (!state.trackSecrets) return;
  if (secret || isSecretName(name) || hasUrlPassword(value) || isSecretValue(value)) state.secrets.add(name);
  else state.secrets.delete(name);
}

export function externalConfigVars(configVars: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const kept: [string, string][] = [];
  for (const [name, value] of Object.entries(configVars)) {
    if (value !== undefined && !name.startsWith(INTERNAL_PREFIX)) kept.push([name, value]);
  }
  return Object.fromEntries(kept);
}

/**
 * Resolves what the binary gets. A set config var wins over a derived variable and over a binary.env line;
 * a binary.env line wins over a derived variable (the app asked for it by name). Lines apply in order, so a
 * line sees the lines above it. Throws `env.binary-env-syntax`, `env.required`, or the error of a broken
 * connection URL that a line references; with `collectProblems`, returns them all in `problems` instead.
 */
export function resolveEnvironment(input: EnvironmentInput): ResolvedEnvironment {
  const config = externalConfigVars(input.configVars);
  const derivation = input.derivation ?? deriveVariables(config);
  const state: State = { values: new Map(), origins: new Map(), secrets: new Set(), trackSecrets: input.trackSecrets ?? true };
  for (const [name, value] of Object.entries(config)) define(state, name, value, { kind: "config" }, false);
  for (const [name, { value, source, secret }] of derivation.variables) {
    define(state, name, value, { kind: "derived", from: source }, secret);
  }
  const skipped: SkippedLine[] = [];
  const undefinedReferences: UndefinedReference[] = [];
  const problems: LineProblem[] = [];
  const failed = new Set<string>();
  const report = input.collectProblems ? (problem: LineProblem) => problems.push(problem) : undefined;
  const { text, path } = input.binaryEnv ?? { text: "", path: "binary.env" };
  for (const entry of parseBinaryEnv(text, path, report)) {
    if (entry.name.startsWith(INTERNAL_PREFIX)) {
      skipped.push({ name: entry.name, line: entry.line, reason: "internal" });
    } else if (Object.hasOwn(config, entry.name)) {
      skipped.push({ name: entry.name, line: entry.line, reason: "config-var-set" });
    } else {
      const scope: Scope = { ...state, problems: derivation.problems, undefinedReferences, failed, references: input.references, path, entry, secret: false };
      let value: string;
      try {
        value = entry.quote === "single" || entry.quote === "backtick" ? entry.raw : expand(entry.raw, entry.quote, scope);
      } catch (error) {
        if (report === undefined || !(isExecpackError(error) || error instanceof UsesFailedLine)) throw error;
        if (isExecpackError(error)) report({ line: entry.line, error });
        failed.add(entry.name);
        state.values.delete(entry.name);
        state.origins.delete(entry.name);
        state.secrets.delete(entry.name);
        continue;
      }
      failed.delete(entry.name);
      define(state, entry.name, value, { kind: "binary.env", line: entry.line }, scope.secret);
    }
  }
  problems.sort((a, b) => a.line - b.line); // Syntax errors were found first, while reading the lines.
  // A null prototype: a binary.env line named __proto__ stays an ordinary variable, and V8 keeps the object a
  // dictionary from the start instead of making a hidden class per variable (with 50 add-ons, some 600 of them:
  // Object.fromEntries spent several milliseconds of the boot on exactly that).
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of state.values) env[name] = value;
  return {
    env,
    origins: state.origins,
    secrets: state.secrets,
    skipped,
    undefinedReferences,
    problems,
    warnings: derivation.warnings,
    failedUrls: derivation.failed,
  };
}

/**
 * The value as `execpackctl env` shows it. A secret that is one URL keeps everything but its password; any
 * other secret becomes `*****`. Non-secret values still pass through maskUrlValue, in case a URL hides in one.
 */
export function maskedValue(name: string, value: string, secret: boolean): string {
  if (!(secret || isSecretName(name)) || value === "") return maskUrlValue(value);
  const isOneUrl = /^[a-z][a-z0-9+.-]*:\/\/\S*$/i.test(value);
  return isOneUrl && hasUrlPassword(value) ? maskUrlValue(value) : SECRET_MASK;
}

/** The escaped double-quoted form execpack's own binary.env parser reads back exactly. */
function escapedDoubleQuoted(value: string): string {
  return `"${value.replace(/[\\"$]/g, "\\$&").replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

/**
 * Quotes so that dotenv's `parse` gives the value back. Single and back quotes are literal in dotenv; double
 * quotes only turn `\n` and `\r` into line breaks; a raw CR becomes LF before parsing; and in every quote a
 * `\` before the closing quote escapes it, so a value ending in `\` goes unquoted when it can. A line break is
 * only ever written as `\n` or `\r` in double quotes, never raw: it would read as a line of its own. A value with
 * no exact dotenv form (all three quote characters, a line break beside a `"`) gets `escapedDoubleQuoted`.
 */
function quoteValue(value: string): string {
  if (value.endsWith("\\")) return /^[^'"`\s#][^#\r\n]*$/.test(value) ? value : escapedDoubleQuoted(value);
  // A line break inside quotes would start what reads as a line of its own: only `\n` and `\r` escapes carry it.
  const breaks = /[\r\n]/.test(value);
  if (!breaks && !value.includes("'")) return `'${value}'`;
  if (!breaks && !value.includes("`")) return `\`${value}\``;
  if (!value.includes('"') && !/\\[nr]/.test(value)) return `"${value.replace(/\r/g, "\\r").replace(/\n/g, "\\n")}"`;
  return escapedDoubleQuoted(value);
}

/**
 * Variables the dyno (the platform, its shell, .profile.d) sets rather than `heroku config:set`: shown as such,
 * so a user reading `execpackctl env` does not look for a config var named HOME or PWD.
 */
const SET_BY_THE_DYNO = new Set(["HOME", "PATH", "PWD", "OLDPWD", "SHLVL", "_", "PORT", "DYNO", "HOSTNAME", "BINARY_HOME"]);

function describeOrigin(name: string, origin: Origin): string {
  switch (origin.kind) {
    case "execpack":
      return "set by execpack for the binary";
    case "config":
      return SET_BY_THE_DYNO.has(name) ? "set by the dyno" : "config var";
    case "derived":
      return `derived from ${origin.from}`;
    case "binary.env":
      return `binary.env:${origin.line}`;
  }
}

function describeSkipped({ name, line, reason }: SkippedLine): string {
  const why = reason === "config-var-set" ? `the config var ${name} is set` : `names starting with ${INTERNAL_PREFIX} are reserved`;
  return `# binary.env:${line}: ${name} not applied: ${why}`;
}

/**
 * A comment for each config var named like a connection URL (`*_URL`, `*_URI`) that derived nothing, saying
 * why: a placeholder host, a malformed URL (its error, which shows only scheme and host), a scheme that is
 * not a database's. execpack's own BINARY_* settings are release addresses, not connections: left out.
 */
function describeUnderivedUrls(resolved: ResolvedEnvironment): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(resolved.env).sort()) {
    const match = /^(.+)_(URL|URI)$/.exec(name);
    if (match === null || name.startsWith("BINARY_") || resolved.origins.get(name)?.kind !== "config") continue;
    const error = resolved.failedUrls.get(name);
    if (error !== undefined) {
      const why = error.message.startsWith(`${name} `) ? `it ${error.message.slice(name.length + 1)}` : error.message;
      lines.push(`# ${name} derives nothing: ${why} [${error.code}]`);
      continue;
    }
    const twin = `${match[1]}_URL`;
    // A *_URI beside a *_URL connection URL is passed over on purpose: the *_URL one derives.
    if (name !== twin && whyNotConnectionUrl(resolved.env[twin] ?? "") === undefined) continue;
    const why = whyNotConnectionUrl(resolved.env[name] ?? "");
    if (why !== undefined) lines.push(`# ${name} derives nothing: ${why}`);
  }
  return lines;
}

/**
 * The environment as dotenv lines, sorted by name, each with its origin; secrets masked unless `reveal`. Names
 * and values come from outside: a control character (an ANSI escape in a config var) is shown escaped, never
 * sent to the terminal, and a line break inside a value never starts a line of its own.
 */
export function formatEnvironment(resolved: ResolvedEnvironment, options: { reveal: boolean }): string {
  const lines = Object.keys(resolved.env).sort().map((name) => {
    const value = resolved.env[name] ?? "";
    const shown = options.reveal ? value : maskedValue(name, value, resolved.secrets.has(name));
    const origin = resolved.origins.get(name);
    const notes = [...(origin === undefined ? [] : [describeOrigin(name, origin)]), ...(hasTerminalControl(shown) ? ["control characters shown escaped"] : [])];
    return `${escapeControl(name)}=${shownValue(shown)}${notes.length === 0 ? "" : ` # ${notes.join("; ")}`}`;
  });
  const comments = [...resolved.skipped.map(describeSkipped), ...describeUnderivedUrls(resolved)].map(escapeControl);
  return [...lines, ...comments].map((line) => `${line}\n`).join("");
}

/** A control character other than the line breaks and tabs that quoteValue's forms carry. */
function hasTerminalControl(value: string): boolean {
  return hasControl(value.replace(/[\r\n\t]/g, ""));
}

/** quoteValue's form, or, for a value no dotenv form can hold as text (ESC, BEL...), its escaped double-quoted form. */
function shownValue(value: string): string {
  return hasTerminalControl(value) ? escapeLayout(escapedDoubleQuoted(value)) : quoteValue(value);
}
