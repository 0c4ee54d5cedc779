import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONNECTION_SCHEMES, deriveVariables, parseConnectionUrl } from "../../src/environment/connection-url.js";
import type { ConnectionScheme } from "../../src/environment/connection-url.js";
import { ExecpackError } from "../../src/common/errors.js";

const EC2 = "ec2-1-2-3-4.compute-1.amazonaws.com";

/** The whole text a user sees of an error. */
function errorText(error: ExecpackError): string {
  return [error.message, ...error.seen, error.hint ?? ""].join("\n");
}

function parseError(value: string, variable = "DATABASE_URL"): ExecpackError {
  try {
    parseConnectionUrl(value, variable);
  } catch (error) {
    if (error instanceof ExecpackError) return error;
    throw error;
  }
  throw new Error(`parsed without an error: ${value}`);
}

describe("parseConnectionUrl: URL shapes seen in the wild", () => {
  it.each([
    ["Heroku Postgres", `postgres://u:p@${EC2}:5432/d8abc`,
      { scheme: "postgres", hosts: [{ host: EC2, port: 5432 }], user: "u", password: "p", database: "d8abc", tls: false }],
    ["postgresql:// with sslmode=require", "postgresql://u:p@db.internal/app?sslmode=require",
      { scheme: "postgresql", hosts: [{ host: "db.internal", port: 5432 }], database: "app", params: { sslmode: "require" }, tls: true }],
    ["postgres sslmode=prefer is not TLS", "postgres://u:p@db.internal/app?sslmode=prefer", { tls: false }],
    ["postgres verify-full", "postgres://u:p@db.internal/app?sslmode=verify-full", { tls: true }],
    ["IPv6 host", "postgres://u:p@[::1]:5433/app", { hosts: [{ host: "::1", port: 5433 }] }],
    ["IPv6 host, default port", "postgres://u:p@[2001:db8::7]/app", { hosts: [{ host: "2001:db8::7", port: 5432 }] }],
    ["socket directory", "postgres://u@/app?host=/var/run/postgresql",
      { hosts: [{ host: "/var/run/postgresql", port: 5432 }], user: "u", password: undefined, database: "app" }],
    ["percent-encoded socket directory", "postgresql://%2Fvar%2Frun%2Fpostgresql/app", { hosts: [{ host: "/var/run/postgresql", port: 5432 }] }],
    ["multi-host", "postgres://u:p@h1:5432,h2:5433/app",
      { hosts: [{ host: "h1", port: 5432 }, { host: "h2", port: 5433 }] }],
    ["multi-host with a default port", "postgres://u:p@h1,h2:5433/app",
      { hosts: [{ host: "h1", port: 5432 }, { host: "h2", port: 5433 }] }],
    ["JawsDB with port", "mysql://u:p@abc.cbetxkdyhwsb.us-east-1.rds.amazonaws.com:3306/xyz",
      { scheme: "mysql", hosts: [{ host: "abc.cbetxkdyhwsb.us-east-1.rds.amazonaws.com", port: 3306 }], database: "xyz" }],
    ["ClearDB: no port, a query", "mysql://u:p@us-cdbr-east.cleardb.com/heroku_abc?reconnect=true",
      { hosts: [{ host: "us-cdbr-east.cleardb.com", port: 3306 }], database: "heroku_abc", params: { reconnect: "true" }, tls: false }],
    ["mysql2 with ssl=true", "mysql2://u:p@db.internal/app?ssl=true", { scheme: "mysql2", tls: true }],
    ["mariadb", "mariadb://u:p@db.internal:3307/app", { scheme: "mariadb", hosts: [{ host: "db.internal", port: 3307 }] }],
    ["Heroku Redis", `redis://h:p@${EC2}:6379`,
      { scheme: "redis", hosts: [{ host: EC2, port: 6379 }], user: "h", password: "p", database: "0", tls: false }],
    ["rediss:// with an empty user", "rediss://:p@cache.internal:6380",
      { scheme: "rediss", hosts: [{ host: "cache.internal", port: 6380 }], user: "", password: "p", tls: true }],
    ["redis database index", "redis://cache.internal:6379/2", { user: undefined, password: undefined, database: "2" }],
    ["CloudAMQP", "amqp://u:p@rabbit.cloudamqp.com/vhost",
      { scheme: "amqp", hosts: [{ host: "rabbit.cloudamqp.com", port: 5672 }], database: "vhost", tls: false }],
    ["amqps default vhost %2F", "amqps://u:p@rabbit.cloudamqp.com/%2F", { hosts: [{ host: "rabbit.cloudamqp.com", port: 5671 }], database: "/", tls: true }],
    ["amqp without a path", "amqp://rabbit.internal", { database: "/" }],
    ["amqp with a lone slash", "amqp://rabbit.internal/", { database: "/" }],
    ["mongodb replica set", "mongodb://u:p@h1:27017,h2:27018/db?replicaSet=rs0",
      { scheme: "mongodb", hosts: [{ host: "h1", port: 27017 }, { host: "h2", port: 27018 }], database: "db", params: { replicaSet: "rs0" }, tls: false }],
    ["mongodb+srv", "mongodb+srv://u:p@cluster0.x.mongodb.net/db",
      { scheme: "mongodb+srv", hosts: [{ host: "cluster0.x.mongodb.net", port: undefined }], database: "db", tls: true }],
    ["mongodb+srv with tls=false", "mongodb+srv://u:p@cluster0.x.mongodb.net/db?tls=false", { tls: false }],
    ["upper-case scheme", "POSTGRES://u:p@db.internal/app", { scheme: "postgres" }],
    ["plus stays plus in the query", "postgres://u:p@db.internal/app?options=a+b", { params: { options: "a+b" } }],
  ])("%s", (_name, url, expected) => {
    expect(parseConnectionUrl(url, "DATABASE_URL")).toMatchObject(expected);
  });

  it.each([
    ["@", "p%40ss", "p@ss"],
    [":", "p%3Ass", "p:ss"],
    ["/", "p%2Fss", "p/ss"],
    ["%", "p%25ss", "p%ss"],
    ["#", "p%23ss", "p#ss"],
    ["all of them", "%40%3A%2F%25%23", "@:/%#"],
    ["a raw @ (the last @ ends the user info)", "p@ss", "p@ss"],
    ["a raw :", "p:ss", "p:ss"],
    ["unicode", "p%C3%A4ss", "päss"],
  ])("decodes a password holding %s", (_name, encoded, decoded) => {
    expect(parseConnectionUrl(`postgres://u%40corp:${encoded}@db.internal/app%2Fx`, "DATABASE_URL")).toMatchObject({
      user: "u@corp",
      password: decoded,
      database: "app/x",
    });
  });
});

describe("parseConnectionUrl: errors", () => {
  const SECRET = "S3cr3tPw";
  it.each([
    ["an empty value", "", "env.invalid-url", ["empty"]],
    ["garbage", "garbage", "env.invalid-url", ["does not start with"]],
    ["an unknown scheme", `https://u:${SECRET}@example.org/`, "env.invalid-url", ["does not start with"]],
    ["no //", `postgres:u:${SECRET}@db.internal/app`, "env.invalid-url", ['not followed by "//"']],
    ["bad percent-encoding", `postgres://u:${SECRET}%zz@db.internal/app`, "env.invalid-url", ["password", "%"]],
    ["non-UTF-8 bytes", `postgres://u:${SECRET}%ff@db.internal/app`, "env.invalid-url", ["password", "UTF-8"]],
    ["a port above 65535", `postgres://u:${SECRET}@db.internal:65536/app`, "env.invalid-url", ["port", "65535"]],
    ["port 0", `postgres://u:${SECRET}@db.internal:0/app`, "env.invalid-url", ["port"]],
    ["a port that is no number", `postgres://u:${SECRET}@db.internal:54x/app`, "env.invalid-url", ["port"]],
    ["an unencoded / in the password", `postgres://u:${SECRET}/x@db.internal/app`, "env.invalid-url", ["unencoded"]],
    ["an unencoded ? in the password", `postgres://u:${SECRET}?x@db.internal/app`, "env.invalid-url", ["unencoded"]],
    ["an unencoded # in the password", `postgres://u:${SECRET}#x@db.internal/app`, "env.invalid-url", ['"#"', "%23"]],
    ["a newline", `postgres://u:${SECRET}@db.internal/app\n`, "env.invalid-url", ["whitespace"]],
    ["a space in the host", `postgres://u:${SECRET}@db internal/app`, "env.invalid-url", ["whitespace"]],
    ["a bad host character", `postgres://u:${SECRET}@db"internal/app`, "env.invalid-url", ["host"]],
    ["an encoded / in the host", `mysql://u:${SECRET}@db%2Finternal/app`, "env.invalid-url", ["host"]],
    ["a bad IPv6 literal", `postgres://u:${SECRET}@[::g]/app`, "env.invalid-url", ["IPv6"]],
    ["several hosts for mysql", `mysql://u:${SECRET}@h1,h2/app`, "env.invalid-url", ["single host"]],
    ["an empty host in a list", `postgres://u:${SECRET}@h1,,h2/app`, "env.invalid-url", ["empty entry"]],
    ["a port on mongodb+srv", `mongodb+srv://u:${SECRET}@cluster0.x.mongodb.net:27017/db`, "env.invalid-url", ["SRV"]],
    ["a redis path that is no number", `redis://u:${SECRET}@cache.internal/abc`, "env.invalid-url", ["database number"]],
    ["an unencoded / in a vhost", `amqp://u:${SECRET}@rabbit.internal/a/b`, "env.invalid-url", ["vhost", "%2F"]],
    ["no host", `mysql://u:${SECRET}@/heroku_abc`, "env.url-placeholder", ["placeholder"]],
    ["no host, only a port", `mysql://u:${SECRET}@:3306/heroku_abc`, "env.url-placeholder", ["placeholder"]],
    ["nothing after //", "mysql://", "env.url-placeholder", ["placeholder"]],
    ["a placeholder host", `mysql://u:${SECRET}@placeholder:3306/db`, "env.url-placeholder", ["placeholder"]],
    ["an example host", `mysql://u:${SECRET}@db.example.com:3306/db`, "env.url-placeholder", ["placeholder"]],
  ])("%s", (_name, url, code, words) => {
    const error = parseError(url, "JAWSDB_URL");
    expect(error.code).toBe(code);
    expect(error.message).toContain("JAWSDB_URL");
    for (const word of words) expect(errorText(error)).toContain(word);
    expect(errorText(error)).not.toContain(SECRET);
    expect(error.hint).toBeTruthy();
  });

  it("shows only the scheme and the host of a URL it cannot use", () => {
    const error = parseError(`redis://u:${SECRET}@cache.internal:6379/x`, "REDIS_URL");
    expect(error.seen).toEqual(['REDIS_URL: scheme "redis", host "cache.internal"']);
  });
});

/** A path each scheme accepts, so a property only varies what it means to vary. */
const PATH: Readonly<Record<ConnectionScheme, string>> = {
  postgres: "/db", postgresql: "/db", mysql: "/db", mysql2: "/db", mariadb: "/db",
  redis: "/1", rediss: "/1", amqp: "/vhost", amqps: "/vhost", mongodb: "/db", "mongodb+srv": "/db",
};
const scheme = fc.constantFrom(...CONNECTION_SCHEMES);
const hostFor = (s: ConnectionScheme): string => (s === "mongodb+srv" ? "cluster0.x.mongodb.net" : "db.internal:1234");
// Full unicode and every control character: "binary" yields any code point but lone surrogates,
// which no environment variable can hold.
const anyText = fc.string({ unit: "binary", maxLength: 40 });

describe("parseConnectionUrl: properties", () => {
  it("gives back any user and password that went through encodeURIComponent, for every scheme", () => {
    fc.assert(
      fc.property(scheme, anyText, anyText, (s, user, password) => {
        const url = `${s}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostFor(s)}${PATH[s]}`;
        const info = parseConnectionUrl(url, "X_URL");
        expect(info.user).toBe(user);
        expect(info.password).toBe(password);
      }),
      { numRuns: 500 },
    );
  });

  const urlPiece = fc.oneof(
    anyText,
    fc.constantFrom("@", ":", "/", "?", "#", "%", "%2", "%zz", "%ff", "[", "]", "[::1]", ",", "=", "&", ":99999", ":0", "\\", " "),
  );
  const urlish = fc.oneof(
    anyText,
    fc.tuple(scheme, fc.array(urlPiece, { maxLength: 8 })).map(([s, pieces]) => `${s}://${pieces.join("")}`),
  );

  it("either parses or throws an ExecpackError, whatever the input", () => {
    fc.assert(
      fc.property(urlish, (value) => {
        try {
          parseConnectionUrl(value, "X_URL");
        } catch (error) {
          expect(error).toBeInstanceOf(ExecpackError);
          expect(["env.invalid-url", "env.url-placeholder"]).toContain((error as ExecpackError).code);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("never shows a password, even one left unencoded", () => {
    const password = fc
      .array(fc.oneof(anyText, fc.constantFrom("@", ":", "/", "?", "#", "%", "%zz", " ", "\n")), { minLength: 1, maxLength: 6 })
      .map((pieces) => `Pw!${pieces.join("")}!wP`);
    fc.assert(
      fc.property(scheme, password, (s, secret) => {
        try {
          parseConnectionUrl(`${s}://user:${secret}@${hostFor(s)}${PATH[s]}`, "X_URL");
        } catch (error) {
          expect(error).toBeInstanceOf(ExecpackError);
          expect(errorText(error as ExecpackError)).not.toContain(secret);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("deriveVariables", () => {
  function derivedValues(env: Record<string, string | undefined>): Record<string, string> {
    return Object.fromEntries([...deriveVariables(env).variables].map(([name, { value }]) => [name, value]));
  }

  it("derives the documented names from a Heroku Postgres URL", () => {
    expect(derivedValues({ DATABASE_URL: `postgres://u:p%2Fw@${EC2}:5432/d8abc?sslmode=require` })).toEqual({
      DATABASE_HOST: EC2,
      DATABASE_PORT: "5432",
      DATABASE_USER: "u",
      DATABASE_PASSWORD: "p/w",
      DATABASE_NAME: "d8abc",
      DATABASE_ADDRESS: `${EC2}:5432`,
      DATABASE_SCHEME: "postgres",
      DATABASE_HOSTS: `${EC2}:5432`,
      DATABASE_TLS: "true",
      DATABASE_JDBC_URL: `jdbc:postgresql://${EC2}:5432/d8abc?sslmode=require`,
    });
  });

  it.each([
    ["JawsDB: DSN and JDBC URL", { JAWSDB_URL: "mysql://u:p%40ss@jaws.internal:3306/xyz" },
      { JAWSDB_ADDRESS: "jaws.internal:3306", JAWSDB_DSN: "u:p@ss@tcp(jaws.internal:3306)/xyz", JAWSDB_JDBC_URL: "jdbc:mysql://jaws.internal:3306/xyz" }],
    ["ClearDB: the query stays out of the DSN", { CLEARDB_DATABASE_URL: "mysql://u:p@us-cdbr-east.cleardb.com/heroku_abc?reconnect=true" },
      { CLEARDB_DATABASE_DSN: "u:p@tcp(us-cdbr-east.cleardb.com:3306)/heroku_abc",
        CLEARDB_DATABASE_JDBC_URL: "jdbc:mysql://us-cdbr-east.cleardb.com:3306/heroku_abc?reconnect=true" }],
    ["mysql TLS in the DSN", { DB_URL: "mariadb://u:p@db.internal/app?ssl-mode=REQUIRED" },
      { DB_TLS: "true", DB_DSN: "u:p@tcp(db.internal:3306)/app?tls=true", DB_JDBC_URL: "jdbc:mariadb://db.internal:3306/app?ssl-mode=REQUIRED" }],
    ["Heroku Redis: user h is not a user", { REDIS_URL: `redis://h:p@${EC2}:6379` },
      { REDIS_USER: "", REDIS_PASSWORD: "p", REDIS_NAME: "0", REDIS_ADDRESS: `${EC2}:6379`, REDIS_TLS: "false" }],
    ["Redis 6 ACL user", { REDIS_URL: "rediss://app:p@cache.internal:6380/3" },
      { REDIS_USER: "app", REDIS_PORT: "6380", REDIS_NAME: "3", REDIS_TLS: "true" }],
    ["IPv6 address", { DATABASE_URL: "postgres://u:p@[::1]/app" },
      { DATABASE_HOST: "::1", DATABASE_ADDRESS: "[::1]:5432", DATABASE_JDBC_URL: "jdbc:postgresql://[::1]:5432/app" }],
    ["multi-host postgres", { DATABASE_URL: "postgres://u:p@h1,h2:5433/app" },
      { DATABASE_HOST: "h1", DATABASE_ADDRESS: "h1:5432", DATABASE_HOSTS: "h1:5432,h2:5433", DATABASE_JDBC_URL: "jdbc:postgresql://h1:5432,h2:5433/app" }],
    ["CloudAMQP vhost", { CLOUDAMQP_URL: "amqps://u:p@rabbit.cloudamqp.com/%2F" },
      { CLOUDAMQP_NAME: "/", CLOUDAMQP_PORT: "5671", CLOUDAMQP_TLS: "true" }],
    ["a _URI variable", { MONGODB_URI: "mongodb://u:p@h1:27017,h2:27018/db?replicaSet=rs0" },
      { MONGODB_HOSTS: "h1:27017,h2:27018", MONGODB_NAME: "db", MONGODB_SCHEME: "mongodb" }],
    ["a URL without user info", { REDIS_URL: "redis://cache.internal" },
      { REDIS_USER: "", REDIS_PASSWORD: "", REDIS_ADDRESS: "cache.internal:6379" }],
  ])("%s", (_name, env, expected) => {
    expect(derivedValues(env)).toMatchObject(expected);
  });

  it("leaves the port of mongodb+srv unset, and the address without one", () => {
    const derived = derivedValues({ MONGODB_URI: "mongodb+srv://u:p@cluster0.x.mongodb.net/db" });
    expect(derived).not.toHaveProperty("MONGODB_PORT");
    expect(derived).toMatchObject({ MONGODB_HOST: "cluster0.x.mongodb.net", MONGODB_ADDRESS: "cluster0.x.mongodb.net", MONGODB_TLS: "true" });
  });

  it("leaves out the JDBC URL of a Unix socket", () => {
    expect(derivedValues({ DATABASE_URL: "postgres://u@/app?host=/var/run/postgresql" })).not.toHaveProperty("DATABASE_JDBC_URL");
  });

  it("marks passwords and DSNs secret, and nothing else", () => {
    const { variables } = deriveVariables({ JAWSDB_URL: "mysql://u:p@jaws.internal/xyz" });
    const secret = [...variables].filter(([, { secret }]) => secret).map(([name]) => name);
    expect(secret.sort()).toEqual(["JAWSDB_DSN", "JAWSDB_PASSWORD"]);
    expect(variables.get("JAWSDB_HOST")).toEqual({ value: "jaws.internal", source: "JAWSDB_URL", secret: false });
  });

  it("never overrides a variable that is set", () => {
    const derived = derivedValues({ DATABASE_URL: "postgres://u:p@db.internal/app", DATABASE_HOST: "mine" });
    expect(derived).not.toHaveProperty("DATABASE_HOST");
    expect(derived).toHaveProperty("DATABASE_PORT", "5432");
  });

  it("prefers _URL over _URI for the same base", () => {
    const derived = derivedValues({ DATABASE_URI: "postgres://u:p@from-uri/app", DATABASE_URL: "postgres://u:p@from-url/app" });
    expect(derived["DATABASE_HOST"]).toBe("from-url");
  });

  it("uses _URI when _URL is not a connection URL", () => {
    const derived = derivedValues({ DATABASE_URL: "https://example.org", DATABASE_URI: "postgres://u:p@from-uri/app" });
    expect(derived["DATABASE_HOST"]).toBe("from-uri");
  });

  it("ignores other schemes, other names and unset values silently", () => {
    const derivation = deriveVariables({ WEBHOOK_URL: "https://u:p@example.org/x", DATABASE: "postgres://u:p@db/app", _URL: "postgres://u:p@db/app", X_URL: undefined });
    expect(derivation.variables.size).toBe(0);
    expect(derivation.problems.size).toBe(0);
    expect(derivation.warnings).toEqual([]);
  });

  it("records a problem for every name a bad URL would derive, instead of throwing", () => {
    const secret = "Pl4c3h0ld3rPw";
    const derivation = deriveVariables({ JAWSDB_URL: `mysql://u:${secret}@/db`, JAWSDB_NAME: "mine", REDIS_URL: "redis://cache.internal" });
    expect([...derivation.problems.keys()].sort()).toEqual(
      ["ADDRESS", "DSN", "HOST", "HOSTS", "JDBC_URL", "PASSWORD", "PORT", "SCHEME", "TLS", "USER"].map((suffix) => `JAWSDB_${suffix}`),
    );
    expect(derivation.problems.get("JAWSDB_HOST")?.code).toBe("env.url-placeholder");
    expect(derivation.warnings.map((warning) => warning.code)).toEqual(["env.url-placeholder"]);
    expect(errorText(derivation.warnings[0] as ExecpackError)).not.toContain(secret);
    expect(derivation.variables.get("REDIS_HOST")?.value).toBe("cache.internal");
  });
});
