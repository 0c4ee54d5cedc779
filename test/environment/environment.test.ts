import { parse } from "dotenv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExecpackError } from "../../src/common/errors.js";
import { hasControl } from "../../src/common/output.js";
import { formatEnvironment, maskedValue, planBinaryEnv, resolveEnvironment } from "../../src/environment/environment.js";
import type { ResolvedEnvironment } from "../../src/environment/environment.js";

const PATH = "/app/binary.env";

function resolve(configVars: Record<string, string | undefined>, text?: string): ResolvedEnvironment {
  return resolveEnvironment({ configVars, ...(text === undefined ? {} : { binaryEnv: { text, path: PATH } }) });
}

function resolveError(configVars: Record<string, string>, text: string): ExecpackError {
  try {
    resolve(configVars, text);
  } catch (error) {
    if (error instanceof ExecpackError) return error;
    throw error;
  }
  throw new Error("resolved without an error");
}

function errorText(error: ExecpackError): string {
  return [error.message, ...error.seen, error.hint ?? ""].join("\n");
}

describe("resolveEnvironment", () => {
  it("gives the binary config vars, derived vars and binary.env vars, each with its origin", () => {
    const resolved = resolve({ PORT: "5000", REDIS_URL: "redis://h:p@cache.internal:6380" }, "SERVER=0.0.0.0:${PORT}\nCACHE=${REDIS_ADDRESS}\n");
    expect(resolved.env).toMatchObject({ PORT: "5000", REDIS_HOST: "cache.internal", SERVER: "0.0.0.0:5000", CACHE: "cache.internal:6380" });
    expect(resolved.origins.get("PORT")).toEqual({ kind: "config" });
    expect(resolved.origins.get("REDIS_PORT")).toEqual({ kind: "derived", from: "REDIS_URL" });
    expect(resolved.origins.get("CACHE")).toEqual({ kind: "binary.env", line: 2 });
  });

  it("never overrides a set variable with a derived one", () => {
    const resolved = resolve({ DATABASE_URL: "postgres://u:p@db.internal/app", DATABASE_HOST: "mine" });
    expect(resolved.env["DATABASE_HOST"]).toBe("mine");
    expect(resolved.origins.get("DATABASE_HOST")).toEqual({ kind: "config" });
  });

  it("lets a set config var win over a binary.env line, and records the skipped line", () => {
    const resolved = resolve({ MODE: "from-config" }, "# comment\nMODE=from-file\n");
    expect(resolved.env["MODE"]).toBe("from-config");
    expect(resolved.skipped).toEqual([{ name: "MODE", line: 2, reason: "config-var-set" }]);
  });

  it("does not evaluate a skipped line, so its ${VAR:?} cannot fail", () => {
    expect(resolve({ MODE: "x" }, "MODE=${MISSING:?never checked}").env["MODE"]).toBe("x");
  });

  it("lets a binary.env line replace a derived variable", () => {
    const resolved = resolve({ DATABASE_URL: "postgres://u:p@db.internal/app" }, "DATABASE_NAME=other");
    expect(resolved.env["DATABASE_NAME"]).toBe("other");
    expect(resolved.origins.get("DATABASE_NAME")).toEqual({ kind: "binary.env", line: 1 });
  });

  it("removes EXECPACK_INTERNAL_ variables, and binary.env cannot set them", () => {
    const resolved = resolve({ EXECPACK_INTERNAL_STATE: "x", EXECPACK_INTERNAL_DB_URL: "postgres://u:p@db/app", KEEP: "1" }, "EXECPACK_INTERNAL_X=1\nSEEN=${EXECPACK_INTERNAL_STATE}");
    expect(Object.keys(resolved.env).filter((name) => name.startsWith("EXECPACK_INTERNAL_"))).toEqual([]);
    expect(resolved.env).toEqual({ KEEP: "1", SEEN: "" });
    expect(resolved.skipped).toEqual([{ name: "EXECPACK_INTERNAL_X", line: 1, reason: "internal" }]);
  });

  it("drops config vars whose value is undefined", () => {
    expect(resolve({ A: undefined, B: "" }).env).toEqual({ B: "" });
  });

  const CONFIG = { SET: "value", EMPTY: "", PORT: "5000" };
  it.each([
    ["plain", "A=plain", "plain"],
    ["export prefix", "export A=x", "x"],
    ["$VAR", "A=$SET-$PORT", "value-5000"],
    ["${VAR}", "A=${SET}x", "valuex"],
    ["a name defined nowhere is empty", "A=[${NOWHERE}]", "[]"],
    ["${VAR:-default} when set", "A=${SET:-d}", "value"],
    ["${VAR:-default} when empty", "A=${EMPTY:-d}", "d"],
    ["${VAR:-default} when unset", "A=${NOWHERE:-d}", "d"],
    ["${VAR-default} when empty", "A=${EMPTY-d}", ""],
    ["${VAR-default} when unset", "A=${NOWHERE-d}", "d"],
    ["a default holding a substitution", "A=${NOWHERE:-${PORT}0}", "50000"],
    ["a default holding spaces and #", "A=${NOWHERE:-a # b}", "a # b"],
    ["${VAR:?message} when set", "A=${SET:?needed}", "value"],
    ["${VAR?message} when empty", "A=${EMPTY?needed}", ""],
    ["\\$ is a literal $", "A=\\$SET", "$SET"],
    ["a lone $ stays", "A=cost $5 $", "cost $5 $"],
    ["single quotes are literal", "A='${SET} \\n $PORT'", "${SET} \\n $PORT"],
    ["back quotes are literal", "A=`${SET}`", "${SET}"],
    ["double quotes expand", 'A="${SET} $PORT"', "value 5000"],
    ["double-quote escapes", 'A="a\\nb\\t\\"c\\" \\\\ \\$SET"', 'a\nb\t"c" \\ $SET'],
    ["an inline comment after whitespace", "A=value # comment", "value"],
    ["# at the value's start is a comment, as in dotenv", "A=#fff", ""],
    ["# inside a value is data", "A=https://x/#/route", "https://x/#/route"],
    ["# right after a character is data", "A=pa#ss", "pa#ss"],
    ["a comment after a quoted value", "A='x y' # comment", "x y"],
    ["spaces around =", "A = spaced ", "spaced"],
    ["an empty value", "A=", ""],
    ["= inside the value", "A=b=c", "b=c"],
    ["a multi-line double-quoted value", 'A="line 1\nline $PORT"', "line 1\nline 5000"],
    ["a multi-line single-quoted value", "A='line 1\nline $PORT'", "line 1\nline $PORT"],
    ["CRLF line ends", "A=x\r\nB=y\r\n", "x"],
  ])("%s", (_name, text, expected) => {
    expect(resolve(CONFIG, text).env["A"]).toBe(expected);
  });

  it("sees earlier lines, and line numbers count the lines of multi-line values", () => {
    const resolved = resolve({}, 'HOST=db.internal\nMULTI="a\nb"\n\nADDRESS=${HOST}:5432\n');
    expect(resolved.env["ADDRESS"]).toBe("db.internal:5432");
    expect(resolved.origins.get("ADDRESS")).toEqual({ kind: "binary.env", line: 5 });
  });

  it("reports references to names defined nowhere, with their line", () => {
    const resolved = resolve({}, "A=x\nB=${TYPO}$OTHER ${DEFAULTED:-ok}");
    expect(resolved.undefinedReferences).toEqual([{ name: "TYPO", line: 2 }, { name: "OTHER", line: 2 }]);
  });

  it("fails ${VAR:?message} with env.required, naming the variable and the line, the message as hint", () => {
    const error = resolveError({ EMPTY: "" }, "A=1\nB=${EMPTY:?set EMPTY to the API host}");
    expect(error.code).toBe("env.required");
    expect(error.message).toContain("EMPTY");
    expect(error.message).toContain("line 2");
    expect(error.hint).toBe("set EMPTY to the API host. Set it with `heroku config:set EMPTY=...`.");
    // A message that says how already is not told twice.
    const told = resolveError({}, "B=${KEY:?set KEY with heroku config:set KEY=...}");
    expect(told.hint).toBe("set KEY with heroku config:set KEY=...");
  });

  it("fails ${VAR?message} only when unset, with a hint when the message is empty", () => {
    const error = resolveError({}, "B=${MISSING?}");
    expect(error.code).toBe("env.required");
    expect(error.message).toContain("MISSING is not set");
    expect(error.hint).toContain("heroku config:set MISSING=");
  });

  it("fails a reference to a derived variable of a malformed URL with that URL's error", () => {
    const secret = "S3cr3tPw";
    const error = resolveError({ DATABASE_URL: `postgres://u:${secret}@db.internal:99999/app` }, "X=1\nDB=${DATABASE_HOST}");
    expect(error.code).toBe("env.invalid-url");
    expect(error.message).toContain("DATABASE_HOST");
    expect(error.message).toContain("DATABASE_URL");
    expect(error.message).toContain("line 2");
    expect(errorText(error)).not.toContain(secret);
    expect(error.cause).toBeInstanceOf(ExecpackError);
  });

  it("fails a reference to a placeholder URL even under :-, since a default must not replace the add-on", () => {
    const error = resolveError({ JAWSDB_URL: "mysql://u:p@/db" }, "DB=${JAWSDB_ADDRESS:-localhost:3306}");
    expect(error.code).toBe("env.url-placeholder");
    expect(error.message).toContain("JAWSDB_ADDRESS");
  });

  it("only warns about a malformed URL nothing references", () => {
    const resolved = resolve({ DATABASE_URL: "postgres://u:p@db.internal:99999/app" }, "A=1");
    expect(resolved.warnings.map((warning) => warning.code)).toEqual(["env.invalid-url"]);
    expect(resolved.env).not.toHaveProperty("DATABASE_HOST");
  });

  it.each([
    ["not NAME=VALUE", "A=1\nnot an assignment", 2, ["line 2", "NAME=VALUE"]],
    ["export without a value", "export A", 1, ["NAME=VALUE"]],
    ["a name starting with a digit", "1A=x", 1, ["valid name"]],
    ["a name with a dash", "A-B=x", 1, ["valid name"]],
    ["an unterminated double quote", 'A=1\nB="open\nC=2', 2, ["line 2", "never closed"]],
    ["an unterminated single quote", "B='open", 1, ["never closed"]],
    ["text after the closing quote", "B='x' y", 1, ["after the closing quote"]],
    ["an unclosed ${", "A=${OPEN", 1, ['"${"']],
    ["an unsupported operator", "A=${X:+y}", 1, ["${NAME:-default}"]],
    ["a bad name in ${}", "A=${1X}", 1, ["${NAME}"]],
  ])("rejects %s with env.binary-env-syntax", (_name, text, line, words) => {
    const error = resolveError({}, text);
    expect(error.code).toBe("env.binary-env-syntax");
    expect(error.seen).toEqual([`${PATH}:${line}`]);
    for (const word of words) expect(errorText(error)).toContain(word);
  });

  it("does not echo a line it cannot read", () => {
    const error = resolveError({}, "postgres://u:S3cr3tPw@db/app");
    expect(errorText(error)).not.toContain("S3cr3tPw");
  });

  it.each([
    ["a derived password", { DATABASE_URL: "postgres://u:p@db/app" }, "", "DATABASE_PASSWORD", true],
    ["a derived host", { DATABASE_URL: "postgres://u:p@db/app" }, "", "DATABASE_HOST", false],
    ["a config var with a secret name", { API_TOKEN: "t" }, "", "API_TOKEN", true],
    ["a config var holding a URL with a password", { DATABASE_URL: "postgres://u:p@db/app" }, "", "DATABASE_URL", true],
    ["a config var holding a URL without a password", { SITE_URL: "https://example.org" }, "", "SITE_URL", false],
    ["a line built from a secret", { DATABASE_URL: "postgres://u:p@db/app" }, "DB_PASS=${DATABASE_PASSWORD}", "DB_PASS", true],
    ["a line built from a non-secret", { PORT: "1" }, "ADDR=:${PORT}", "ADDR", false],
  ])("marks secret: %s", (_name, config, text, name, secret) => {
    expect(resolve(config, text).secrets.has(name)).toBe(secret);
  });
});

describe("resolveEnvironment collecting problems (execpackctl check)", () => {
  const collect = (configVars: Record<string, string>, text: string) =>
    resolveEnvironment({ configVars, binaryEnv: { text, path: PATH }, collectProblems: true });
  const summary = (resolved: ResolvedEnvironment) => resolved.problems.map(({ line, error }) => `${line} ${error.code}`);

  it("goes on past every failing line and keeps what the other lines give", () => {
    const text = ["A=${TYPO}", "not an assignment", "B=${REQUIRED:?set it}", 'C="never closed', "D=${DATABASE_HOST}", "E=ok"].join("\n");
    const resolved = collect({ DATABASE_URL: "postgres://u:p@db.internal:99999/app" }, text);
    expect(summary(resolved)).toEqual(["2 env.binary-env-syntax", "3 env.required", "4 env.binary-env-syntax", "5 env.invalid-url"]);
    expect(resolved.undefinedReferences).toEqual([{ name: "TYPO", line: 1 }]);
    expect(resolved.env).toMatchObject({ A: "", E: "ok" });
    expect(resolved.env).not.toHaveProperty("B");
  });

  it("does not report again a line that uses a variable whose own line failed", () => {
    const resolved = collect({}, "A=${MISSING:?}\nB=${A}/x\nC=${B:?}\nA=fixed\nD=${A}");
    expect(summary(resolved)).toEqual(["1 env.required"]);
    expect(resolved.undefinedReferences).toEqual([]);
    expect(resolved.env).toMatchObject({ A: "fixed", D: "fixed" });
    expect(resolved.env).not.toHaveProperty("C");
  });

  it("resumes after a multi-line value with text after its closing quote", () => {
    const resolved = collect({}, 'A="one\ntwo" trailing\nB=${UNSET?}');
    expect(summary(resolved)).toEqual(["1 env.binary-env-syntax", "3 env.required"]);
    expect(resolved.problems[0]?.error.seen).toEqual([`${PATH}:2`]);
  });

  it("still throws the first problem without collectProblems (the boot)", () => {
    expect(resolveError({}, "A=${X:?}\nB=${Y:?}").message).toContain("X is empty or not set");
  });
});

describe("binary.env at build time", () => {
  it("lists every syntax error in line order, substitutions and defaults included, and nothing that needs a config var", () => {
    const text = "A=${MISSING:?set it}\nB='open\nC=${D:-${E}\nF=${1BAD}\nG=ok\n";
    const { problems, lines } = planBinaryEnv(text, "binary.env");
    expect(problems.map(({ line, error }) => [line, error.code])).toEqual([[2, "env.binary-env-syntax"], [3, "env.binary-env-syntax"], [4, "env.binary-env-syntax"]]);
    expect(lines).toBeUndefined(); // and no plan: the boot reports them
    expect(planBinaryEnv("A=${B:-x}\n", "binary.env").problems).toEqual([]);
  });

  it.each([
    ["literal, reference, defaults and required", "A=x${B}y\nC=${D:-d e}\nE=${F?msg}\n", [
      { name: "A", pieces: [{ kind: "text", text: "x" }, { kind: "ref", name: "B" }, { kind: "text", text: "y" }] },
      { name: "C", pieces: [{ kind: "op", name: "D", operator: ":-", word: "d e" }] },
      { name: "E", pieces: [{ kind: "op", name: "F", operator: "?", word: "" }] },
    ]],
    ["quotes: single literal, double with escapes; an internal name left out", "A='${B}'\nC=\"\\$x\\n\"\nEXECPACK_INTERNAL_X=1\n", [
      { name: "A", pieces: [{ kind: "text", text: "${B}" }] },
      { name: "C", pieces: [{ kind: "text", text: "$x\n" }] },
    ]],
  ])("plans %s for the shell path", (_, text, plan) => {
    expect(planBinaryEnv(text, "binary.env").lines).toEqual(plan);
  });

  it.each([
    ["a syntax error", "A='open\n"],
    ["a default that is itself expanded", "A=${B:-${C}}\n"],
  ])("plans nothing for %s: Node.js applies it", (_, text) => {
    expect(planBinaryEnv(text, "binary.env").lines).toBeUndefined();
  });
});

describe("maskedValue", () => {
  it.each([
    ["a plain value", "HOST", "db.internal", false, "db.internal"],
    ["a secret", "DB_PASS", "hunter2", true, "*****"],
    ["a secret-looking name", "API_KEY", "k", false, "*****"],
    ["a secret URL keeps all but its password", "DATABASE_URL", "postgres://u:p@db/app", true, "postgres://u:*****@db/app"],
    ["a secret that is not one URL", "DSN", "u:p@tcp(db:3306)/app", true, "*****"],
    ["a URL hidden in text", "NOTE", "use postgres://u:p@db/app", false, "use postgres://u:*****@db/app"],
    ["an empty secret", "API_KEY", "", true, ""],
  ])("%s", (_name, name, value, secret, expected) => {
    expect(maskedValue(name, value, secret)).toBe(expected);
  });
});

describe("formatEnvironment", () => {
  const SECRET = "p%40ssw0rd";
  const config = { DATABASE_URL: `postgres://u:${SECRET}@db.internal/app`, PORT: "5000", MODE: "prod" };
  const text = "MODE=ignored\nDB_PASS=${DATABASE_PASSWORD}\nQUOTE=it's\n";

  it("masks secrets and says where each variable comes from", () => {
    const shown = formatEnvironment(resolve(config, text), { reveal: false });
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain("p@ssw0rd");
    expect(shown).toContain("DATABASE_URL='postgres://u:*****@db.internal/app' # config var\n");
    expect(shown).toContain("DATABASE_PASSWORD='*****' # derived from DATABASE_URL\n");
    expect(shown).toContain("DB_PASS='*****' # binary.env:2\n");
    expect(shown).toContain("QUOTE=`it's` # binary.env:3\n");
    expect(shown).toContain("# binary.env:1: MODE not applied: the config var MODE is set\n");
  });

  it("shows secrets with reveal, in lines dotenv parses back", () => {
    const resolved = resolve(config, text);
    const shown = formatEnvironment(resolved, { reveal: true });
    expect(shown).toContain("DATABASE_PASSWORD='p@ssw0rd'");
    expect(parse(shown)).toEqual(resolved.env);
  });

  it("writes a value dotenv cannot hold in a form binary.env reads back", () => {
    const value = `'"\`$HOME\\\n\r`;
    const shown = formatEnvironment(resolve({ ODD: value }), { reveal: true });
    expect(resolve({}, shown).env["ODD"]).toBe(value);
  });

  it("quotes any value so dotenv parses it back", () => {
    // Values with no exact dotenv form are left out. In dotenv, a `\` before a closing quote escapes it, so a
    // value ending in `\` must go unquoted; a raw CR becomes LF, so a CR needs the `\r` escape of double quotes;
    // double quotes cannot hold `"` and turn a literal `\n` into a line break. A line break is never written raw
    // (it would read as a line of its own), so only double quotes can carry one.
    // A value holding a character a terminal acts on (ESC, BEL, U+2028...) is shown escaped, not as itself.
    const hasDotenvForm = (v: string): boolean => {
      if (hasControl(v.replace(/[\r\n\t]/g, ""))) return false;
      if (v.endsWith("\\")) return /^[^'"`\s#][^#\r\n]*$/.test(v);
      if (!/[\r\n]/.test(v) && (!v.includes("'") || !v.includes("`"))) return true;
      return !v.includes('"') && !/\\[nr]/.test(v);
    };
    const tricky = fc.constantFrom("'", '"', "`", "\\", "\n", "\r", "#", " ", "$", "n", "r", "=", "\u2028");
    const unit = fc.oneof(tricky, fc.string({ unit: "binary", minLength: 1, maxLength: 1 }));
    const value = fc.string({ unit, maxLength: 30 }).filter(hasDotenvForm);
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), value, { maxKeys: 4 }), (vars) => {
        const resolved = resolve(vars);
        expect(parse(formatEnvironment(resolved, { reveal: true }))).toEqual(resolved.env);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("formatEnvironment says why a URL derived nothing", () => {
  const SECRET = "pw-7Hq2";
  it.each([
    ["a host reserved for examples", "DATABASE_URL", `postgres://u:${SECRET}@db.example.com:5432/app`,
      '# DATABASE_URL derives nothing: it holds a placeholder, not the address of a server yet: its host "db.example.com" is a name reserved for examples and documentation [env.url-placeholder]'],
    ["a placeholder word", "REDIS_URL", `redis://h:${SECRET}@changeme:6379`,
      '# REDIS_URL derives nothing: it holds a placeholder, not the address of a server yet: its host "changeme" is a placeholder word [env.url-placeholder]'],
    ["no host", "JAWSDB_URL", `mysql://u:${SECRET}@/heroku_abc`,
      "# JAWSDB_URL derives nothing: it holds a placeholder, not the address of a server yet: it has no host [env.url-placeholder]"],
    ["a malformed URL", "DATABASE_URL", `postgres://u:${SECRET}@db.internal:99999/app`,
      "# DATABASE_URL derives nothing: it is not a valid connection URL: the port must be a number from 1 to 65535 [env.invalid-url]"],
    ["a scheme it does not know", "ELASTICSEARCH_URL", `https://u:${SECRET}@search.internal:9200`,
      '# ELASTICSEARCH_URL derives nothing: its scheme "https" is not a database, cache or broker one execpack knows (postgres, postgresql, mysql, mysql2, mariadb, redis, rediss, amqp, amqps, mongodb, mongodb+srv)'],
    ["no URL at all", "CACHE_URL", "cache.internal:11211", '# CACHE_URL derives nothing: it is not a URL (no "scheme://" at its start)'],
    ["an empty value", "QUEUE_URI", "", "# QUEUE_URI derives nothing: it is empty"],
  ])("%s", (_case, name, value, line) => {
    const text = formatEnvironment(resolve({ [name]: value }), { reveal: false });
    expect(text.split("\n")).toContain(line);
    expect(text).not.toContain(SECRET);
  });

  it.each([
    ["a URL that derives", { DATABASE_URL: "postgres://u:p@db.internal/app" }],
    ["execpack's own settings", { BINARY_URL: "https://github.com/o/r/releases/latest" }],
    ["a _URI beside its _URL twin", { MONGO_URL: "mongodb://db.internal/app", MONGO_URI: "https://docs" }],
    ["a name that is no URL's", { SITE: "https://example.org" }],
  ])("and says nothing for %s", (_case, config) => {
    expect(formatEnvironment(resolve(config), { reveal: false })).not.toContain("derives nothing");
  });
});

describe("resolveEnvironment without secret tracking (the boot)", () => {
  it("gives the binary the same variables and tracks no secrets", () => {
    const input = {
      configVars: { DATABASE_URL: "postgres://u:s3cret@db.internal:5432/app", API_TOKEN: "t0k" },
      binaryEnv: { text: "APP_PASSWORD=${DATABASE_PASSWORD}\nAPP_HOST=${DATABASE_HOST}\n", path: "binary.env" },
    };
    const tracked = resolveEnvironment(input);
    const untracked = resolveEnvironment({ ...input, trackSecrets: false });
    expect(untracked.env).toEqual(tracked.env);
    expect(tracked.secrets.has("APP_PASSWORD")).toBe(true);
    expect(untracked.secrets.size).toBe(0);
  });
});
