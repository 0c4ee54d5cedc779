/**
 * The profile step's shell path (launchers/execpack-profile-step with execpack-derive.awk) against the Node.js
 * step it stands in for (src/boot/profile.ts): run on the same slug, binary.env and environment, whenever the
 * shell path writes a record it must be the record Node.js writes, field for field. Typical Heroku add-on URLs
 * must take the shell path (or it saves nothing), and whatever earns a warning or an error must not.
 * The environments are generated (fast-check): URLs built from pieces that are valid, odd and broken, config
 * vars that collide with derived names, binary.env lines of every substitution form.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { profile } from "../../src/boot/profile.js";
import { writePlan } from "../../src/boot/profile-plan.js";
import { parseRecord } from "../../src/boot/profile-record.js";
import type { ProfileRecord } from "../../src/boot/profile-record.js";
import { slugPaths } from "../../src/install/slug.js";
import type { SlugPaths } from "../../src/install/slug.js";

const LAUNCHERS = fileURLToPath(new URL("../../launchers/", import.meta.url));

let dir: string;
let paths: SlugPaths;
let runs = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "execpack-profile-step-"));
  paths = slugPaths(join(dir, "app"));
  mkdirSync(join(paths.binaryDir, "bin"), { recursive: true });
  mkdirSync(join(paths.root, "libexec"), { recursive: true });
  copyFileSync(join(LAUNCHERS, "execpack-profile-step"), join(paths.root, "libexec/execpack-profile-step"));
  copyFileSync(join(LAUNCHERS, "execpack-derive.awk"), join(paths.root, "libexec/execpack-derive.awk"));
  const manifest = { name: "server", path: "bin/server", commands: { server: "bin/server", ctl: "bin/ctl" }, libraryPath: ["lib"], entry: "x", size: 1, sha256: "0", source: "s", format: "zip", fetch: "build" };
  writeFileSync(paths.manifest, JSON.stringify(manifest));
  mkdirSync(join(dir, "scratch"), { mode: 0o700 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** binary.env as the build saw it (older than the plan), or none. */
function install(binaryEnv: string | undefined): void {
  const file = join(paths.appDir, "binary.env");
  rmSync(file, { force: true });
  if (binaryEnv !== undefined) {
    writeFileSync(file, binaryEnv);
    utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  }
  writePlan(paths);
}

interface Outcome { node: ProfileRecord; nodeWarnings: string[]; shell: ProfileRecord | undefined; shellStatus: number | null }

function both(env: Record<string, string>): Outcome {
  runs += 1;
  const nodeRecord = join(dir, "scratch", `node-${runs}`);
  const shellRecord = join(dir, "scratch", `shell-${runs}`);
  const { record: node, warnings: nodeWarnings } = profile(paths, { ...env }, nodeRecord);
  const shell = spawnSync("bash", [join(paths.root, "libexec/execpack-profile-step"), paths.root, shellRecord], { env, encoding: "utf8" });
  const written = existsSync(shellRecord) ? parseRecord(readFileSync(shellRecord, "utf8")) : undefined;
  if (shell.status !== 0) expect(written).toBeUndefined(); // nothing half-done: declined means no file
  return { node, nodeWarnings, shell: shell.status === 0 ? written : undefined, shellStatus: shell.status };
}

/** The record as the launcher reads it: Maps compared by content, not by the order of their entries. */
function comparable(record: ProfileRecord): unknown {
  const sorted = <T>(map: ReadonlyMap<string, T>) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { ...record, derived: sorted(record.derived), results: sorted(record.results), inputs: sorted(record.inputs), commands: sorted(record.commands) };
}

function expectSame({ node, shell }: Outcome): void {
  expect(shell).toBeDefined();
  expect(node.fast).toBe(true);
  expect(comparable(shell!)).toEqual(comparable(node));
}

const BASE_ENV = { PATH: "/usr/bin:/bin", HOME: "/app", PORT: "5000", DYNO: "web.1" };

describe("the profile step's shell path", () => {
  it.each([
    ["Heroku Postgres", { DATABASE_URL: "postgres://u1abc:p2%2Fsecret@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d9abc" }],
    ["JawsDB and ClearDB", { JAWSDB_URL: "mysql://u:p@x.cbetxkdyhwsb.us-east-1.rds.amazonaws.com:3306/db", CLEARDB_DATABASE_URL: "mysql://b1:c2@us-cdbr-east.cleardb.com/heroku_abc?reconnect=true" }],
    ["Heroku Redis, TLS and not", { REDIS_URL: "redis://h:p4ss@ec2-5-6-7-8.compute-1.amazonaws.com:6379", REDIS_TLS_URL: "rediss://:p4ss@ec2-5-6-7-8.compute-1.amazonaws.com:6380" }],
    ["CloudAMQP", { CLOUDAMQP_URL: "amqps://u:p@rattlesnake.rmq.cloudamqp.com/vhost" }],
    ["MongoDB, several hosts and SRV", { MONGODB_URI: "mongodb://u:p@m1.internal,m2.internal:27018/db?replicaSet=rs0", MONGO_URL: "mongodb+srv://u:p@cluster0.internal/db?tls=false" }],
    ["Postgres with sslmode and a MySQL ssl-mode", { DATABASE_URL: "postgresql://u:p@db.internal/app?sslmode=verify-full&application_name=web", JAWSDB_MARIA_URL: "mariadb://u:p@m.internal:3306/db?ssl-mode=REQUIRED" }],
    ["a _URI twin and a config var that wins over a derived name", { DATABASE_URL: "postgres://u:p@db.internal:5432/app", DATABASE_URI: "postgres://x:y@other.internal/x", DATABASE_PORT: "6432" }],
    ["no add-on at all, and URLs that are not connections", { WEBHOOK_URL: "https://hooks.example.com/x", EMPTY_URL: "" }],
  ])("takes %s, and writes the record Node.js writes", (_, urls) => {
    install("APP_DB=${DATABASE_HOST:-none}:${DATABASE_PORT}\nAPP_LISTEN=0.0.0.0:$PORT\nAPP_MODE=${APP_MODE-production}\nQUOTED='${NOT_EXPANDED}'\nLOG_LEVEL=info # a comment\n");
    const outcome = both({ ...BASE_ENV, ...urls });
    expect(outcome.shellStatus).toBe(0);
    expectSame(outcome);
  });

  it.each([
    ["a placeholder host", { JAWSDB_URL: "mysql://u:p@changeme:3306/db" }, undefined],
    ["an IPv6 host", { DATABASE_URL: "postgres://u:p@[::1]:5432/db" }, undefined],
    ["a URL behind a space", { DATABASE_URL: " postgres://u:p@db.internal/db" }, undefined],
    ["a bad percent escape", { DATABASE_URL: "postgres://u:p%zz@db.internal/db" }, undefined],
    ["a port out of range", { DATABASE_URL: "postgres://u:p@db.internal:65536/db" }, undefined],
    ["BINARY_FETCH=boot", { BINARY_FETCH: "boot" }, undefined],
    ["a required variable that is missing", {}, "KEY=${APP_SECRET:?set it}\n"],
    ["a default that is itself expanded", {}, "KEY=${A:-${B}}\n"],
    ["a binary.env syntax error", {}, "KEY='never closed\n"],
    ["the launchers' own namespace", { EXECPACK_INTERNAL_PROFILE: "/tmp/x" }, undefined],
    ["a URL variable bash cannot name", { "my-db_URL": "redis://h:p@cache.internal:6379" }, undefined],
  ])("leaves %s to Node.js", (_, extra, binaryEnv) => {
    install(binaryEnv ?? "APP_DB=${DATABASE_HOST}\n");
    const outcome = both({ ...BASE_ENV, ...extra });
    expect(outcome.shellStatus).toBe(1);
  });

  it.each([
    ["newer than the plan", +60_000],
    ["with an older modification time", -3_600_000],
  ])("leaves a binary.env edited since the build, %s, to Node.js", (_, offset) => {
    install("A=1\n");
    writeFileSync(join(paths.appDir, "binary.env"), "A=2\n");
    utimesSync(join(paths.appDir, "binary.env"), new Date(Date.now() + offset), new Date(Date.now() + offset));
    const outcome = both({ ...BASE_ENV });
    expect(outcome.shellStatus).toBe(1);
    expect(outcome.node.results.get("A")).toBe("2");
  });

  // The generated cases: every piece a URL or binary.env line can have, mostly good (a start with one bad URL is
  // all Node.js's), some odd, some broken.
  const mostly = <T>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: odd, weight: 1 });
  const caseOf = (s: string) => mostly(fc.constant(s), fc.constant(s.toUpperCase()));
  const scheme = mostly(fc.oneof(...["postgres", "postgresql", "mysql", "mysql2", "mariadb", "redis", "rediss", "amqp", "amqps", "mongodb", "mongodb+srv"].map(caseOf)), fc.constant("https"));
  const text = mostly(
    fc.stringMatching(/^([A-Za-z0-9_.~-]|%[0-7][0-9A-F]|[!*'()+,;$])*$/, { maxLength: 10 }),
    fc.stringMatching(/^([A-Za-z0-9]|%[0-9A-Fa-f]{2}|%[0-9a-z]?|[@:/?=&+ "#\\\u00e9])*$/, { maxLength: 10 }),
  );
  const host = mostly(
    fc.oneof(fc.constantFrom("db.internal", "cache.internal", "h_1.svc", "DB.Internal"), fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/)),
    fc.constantFrom("changeme", "db.example.com", "example", "x.invalid", "your-hostname", "[::1]", "d\u00e9.internal", "", "a%41"),
  );
  const port = mostly(fc.constantFrom("", ":5432", ":080", ":65535", ":"), fc.constantFrom(":0", ":65536", ":1234567", ":x"));
  const hostList = fc.array(fc.tuple(host, port).map(([h, p]) => h + p), { minLength: 1, maxLength: 3 }).map((hosts) => hosts.join(","));
  const userinfo = fc.option(fc.tuple(text, fc.option(text)).map(([user, password]) => `${user}${password === null ? "" : `:${password}`}@`), { nil: "" });
  const path = mostly(fc.constantFrom("", "/", "/db", "/0", "/12", "/heroku_abc", "/a%2Bb"), fc.oneof(fc.constantFrom("/v%2Fhost", "/a/b"), text.map((t) => `/${t}`)));
  const queryKey = mostly(fc.constantFrom("sslmode", "ssl", "tls", "ssl-mode", "sslMode", "reconnect", "application_name"), fc.constantFrom("host", "port", "__proto__", "1", "a%20b", ""));
  const queryValue = mostly(fc.constantFrom("", "require", "REQUIRED", "verify-full", "true", "FALSE", "false", "disable", "a%2Bb", "x%20y", "(*)"), fc.constantFrom("/tmp", "x y", "%zz"));
  const query = fc.option(fc.array(fc.tuple(queryKey, fc.option(queryValue)).map(([k, v]) => (v === null ? k : `${k}=${v}`)), { maxLength: 3 }).map((pairs) => `?${pairs.join("&")}`), { nil: "" });
  const url = fc.tuple(scheme, userinfo, hostList, path, query).map(([s, u, h, p, q]) => `${s}://${u}${h}${p}${q}`);
  const urlName = fc.constantFrom("DATABASE_URL", "DATABASE_URI", "REDIS_URL", "HEROKU_POSTGRESQL_RED_URL", "X_URL", "_URL", "CACHE_URI");
  const setName = fc.constantFrom("DATABASE_HOST", "DATABASE_PORT", "REDIS_PASSWORD", "DATABASE_JDBC_URL", "APP_MODE", "LOG_LEVEL", "BINARY_FETCH");
  const setValue = fc.constantFrom("", "x", "build", "Boot", "5432", "a b");
  const reference = fc.constantFrom("DATABASE_HOST", "DATABASE_PORT", "REDIS_PASSWORD", "APP_MODE", "PORT", "MISSING", "A1", "DATABASE_JDBC_URL", "X_DSN");
  const piece = fc.oneof(
    fc.constantFrom("plain", "a b", "x#y", " #c", "\\$", "$", "$5", "\\n", "\\\\", "}"),
    reference.map((n) => `\${${n}}`),
    reference.map((n) => `$${n}`),
    fc.tuple(reference, fc.constantFrom(":-", "-", ":?", "?"), fc.constantFrom("", "def", "d e", "${PORT}")).map(([n, op, w]) => `\${${n}${op}${w}}`),
  );
  const value = fc.tuple(fc.array(piece, { maxLength: 3 }), fc.constantFrom("none", "single", "double")).map(([pieces, quote]) => {
    const joined = pieces.join("");
    return quote === "single" ? `'${joined.replace(/'/g, "")}'` : quote === "double" ? `"${joined.replace(/"/g, "")}"` : joined;
  });
  const lineName = fc.constantFrom("A1", "A2", "APP_MODE", "DATABASE_HOST", "LOG_LEVEL", "EXECPACK_INTERNAL_X");
  const binaryEnv = fc.option(fc.array(fc.tuple(lineName, value).map(([n, v]) => `${n}=${v}`), { maxLength: 4 }).map((lines) => `${lines.join("\n")}\n`), { nil: undefined });
  const environment = fc.tuple(fc.array(fc.tuple(urlName, url), { maxLength: 3 }), fc.array(fc.tuple(setName, setValue), { maxLength: 2 })).map(([urls, sets]) => ({
    ...BASE_ENV,
    ...Object.fromEntries(sets),
    ...Object.fromEntries(urls),
  }));

  it("writes, whenever it writes, exactly the record Node.js writes (generated environments and binary.env files)", () => {
    let taken = 0;
    let declined = 0;
    fc.assert(
      fc.property(environment, binaryEnv, (env, file) => {
        install(file);
        const outcome = both(env);
        if (outcome.shell === undefined) {
          declined += 1;
          return;
        }
        taken += 1;
        expect(outcome.nodeWarnings).toEqual([]); // a start worth a warning is Node.js's to print
        expectSame(outcome);
      }),
      { numRuns: 250 },
    );
    // Both kinds were exercised, or the property says little.
    expect(taken).toBeGreaterThan(25);
    expect(declined).toBeGreaterThan(25);
  });
});
