import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { displayUrl, isSecretName, maskUrl, maskUrlValue } from "../../src/common/secrets.js";

describe("displayUrl: a URL for the build log", () => {
  it.each([
    ["https://github.com/o/r/releases/download/v1/app.zip", "https://github.com/o/r/releases/download/v1/app.zip"],
    ["https://user:hunter2@host/app.zip", "https://user:*****@host/app.zip"],
    ["http://ghp_SECRETTOKEN@127.0.0.1:8765/x", "http://*****@127.0.0.1:8765/x"],
    ["https://bucket.s3.amazonaws.com/app.tgz?X-Amz-Signature=S3SIG&X-Amz-Credential=AKIA", "https://bucket.s3.amazonaws.com/app.tgz?..."],
    ["https://dl.example.com/app.tgz?email=me@example.com&token=SECRET", "https://dl.example.com/app.tgz?..."],
    ["https://host:8443/f?email=me@x.com&token=S", "https://host:8443/f?..."],
    ["https://u:p ss@host/x", "https://u:*****@host/x"],
    ["https://u:SEC\tRET@host/x", "https://u:*****@host/x"],
    ["https://u:p/ss@host/x", "https://u:*****@host/x"],
    ["https://u:p?ss@host/x", "https://u:*****@host/x"],
    ["https://u:p@ss@host/x", "https://u:*****@host/x"],
    ["https://host/app.zip#fragment-secret", "https://host/app.zip"],
    ["https://registry.example.org/@esbuild/linux-x64/-/linux-x64-0.20.0.tgz", "https://registry.example.org/@esbuild/linux-x64/-/linux-x64-0.20.0.tgz"],
    ["https://abc/def@host/x", "https://*****@host/x"],
    ["https://user:?0000@db.internal:5432/app?sslmode=require", "https://user:*****@db.internal:5432/app?..."],
    ["  https://u:pw@host/x\n", "https://u:*****@host/x"],
    ["not-a-url-token@host/x?sig=1", "*****@host/x?..."],
  ])("shows %j as %j", (raw, shown) => {
    expect(displayUrl(raw)).toBe(shown);
  });
});

describe("maskUrl: URLs inside free text", () => {
  it.each([
    ['URL: "https://u:hunter2@host/x" failed', 'URL: "https://u:*****@host/x" failed'],
    ["connect https://TOKEN@host:443/x refused", "connect https://*****@host:443/x refused"],
    ["two: postgres://a:pw1@h1/db and redis://:pw2@h2:6379", "two: postgres://a:*****@h1/db and redis://:*****@h2:6379"],
    ["get https://host/f?email=me@x.com&token=S now", "get https://host/f?email=me@x.com&token=***** now"],
    ["s3 https://b.s3/x?X-Amz-Security-Token=T&X-Amz-Signature=S&v=1", "s3 https://b.s3/x?X-Amz-Security-Token=*****&X-Amz-Signature=*****&v=1"],
    ["azure https://a.blob/c/x?sv=2020&sig=ABC%2B", "azure https://a.blob/c/x?sv=2020&sig=*****"],
    ["no url here, just me@example.com", "no url here, just me@example.com"],
    ["error: fetch failed https://example.com/a.zip (retry 1)  contact admin@corp", "error: fetch failed https://example.com/a.zip (retry 1)  contact admin@corp"],
    ["list https://a.com/x?v=1,https://u:SECRET@b.com/h", "list https://a.com/x?v=1,https://u:*****@b.com/h"],
    ["login https://x.com/cb#access_token=T0K3N", "login https://x.com/cb#*****"],
    ["next https://x.com/go?next=https://u:pw@y.com/z&pwd=1", "next https://x.com/go?next=https://u:*****@y.com/z&pwd=*****"],
  ])("masks %j", (text, masked) => {
    expect(maskUrl(text)).toBe(masked);
  });
});

describe("maskUrlValue: a config var that is one URL", () => {
  it.each([
    ["postgres://app:s3cret@db.internal:5432/app_db", "postgres://app:*****@db.internal:5432/app_db"],
    ["postgres://host/db?user=u&password=PGQUERYSECRET", "postgres://host/db?user=u&password=*****"],
    ["postgres://u:pa ss@host/db", "postgres://u:*****@host/db"],
    ["redis://h:p%40ss@ec2.compute.amazonaws.com:6379", "redis://h:*****@ec2.compute.amazonaws.com:6379"],
    ["0.0.0.0:5000", "0.0.0.0:5000"],
    ["postgres://app:Zm9v/YmFy=@db.internal:5432/d", "postgres://app:*****@db.internal:5432/d"],
    ["redis://h:pa?ss=word@redis.internal:6379", "redis://h:*****@redis.internal:6379"],
    ["redis://:S1@r1:6379?x=1,redis://:S2@r2:6379", "redis://:*****@r1:6379?x=1,redis://:*****@r2:6379"],
    ["https://host/x?passphrase=P&user=u", "https://host/x?passphrase=*****&user=u"],
  ])("masks %j", (value, masked) => {
    expect(maskUrlValue(value)).toBe(masked);
  });
});

describe("no password survives", () => {
  // An upper-case letter in every password: no literal text around it below can then hold it by chance
  // (a password "ting" is inside "connecting" of the log line).
  const password = fc.string({ minLength: 4, maxLength: 24, unit: "grapheme-ascii" }).filter((text) => /^(?=.*[A-Z])[A-Za-z0-9]{4,}$/.test(text));
  const garnish = fc.constantFrom("", "@", "/", "?", ":", "#x", " ", "%40", "@@");

  it("for any user, password and host, raw or percent-encoded, in a URL value or a log line", () => {
    fc.assert(
      fc.property(password, garnish, garnish, fc.constantFrom("https", "postgres", "redis", "mysql"), (secret, before, after, scheme) => {
        const raw = `${before}${secret}${after}`;
        for (const userinfo of [`user:${raw}`, `user:${encodeURIComponent(raw)}`, encodeURIComponent(raw)]) {
          const url = `${scheme}://${userinfo}@db.internal:5432/app?sslmode=require`;
          expect(displayUrl(url)).not.toContain(secret);
          expect(maskUrlValue(url)).not.toContain(secret);
          // Free text ends a URL at whitespace; a raw space in a password is only followed to its "@" when
          // nothing before it looks like the end of the user info (see maskUrl), so such lines are left out.
          if (!/\s/.test(raw) || !raw.includes("@")) expect(maskUrl(`error: connecting to "${url}" failed`)).not.toContain(secret);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("masking time stays linear in the text (every config var passes through it at boot)", () => {
  it.each([
    ["a URL followed by many spaces", `see https://example.com${" ".repeat(5000)}end`],
    ["runs of double spaces", `GET http://x/a${"  col".repeat(5000)}`],
    ["tabs", `https://u:p${"\t".repeat(5000)}x`],
    ["a long word of letters", "a".repeat(200_000)],
    ["a long word of letters with a scheme inside", `${"b".repeat(100_000)}://${"c".repeat(100_000)}`],
    ["many URLs", "https://u:p@h/x ".repeat(5000)],
  ])("for %s", (_case, text) => {
    const started = performance.now();
    maskUrl(text);
    maskUrlValue(text);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("isSecretName", () => {
  it.each([
    "DATABASE_PASSWORD",
    "PGPASSWORD",
    "ADMIN_PASS",
    "PASS",
    "MYSQL_PWD",
    "pwd",
    "REDIS_PASSWD",
    "passphrase",
    "API_TOKEN",
    "GITHUB_TOKEN",
    "accessToken",
    "X-Amz-Security-Token",
    "SECRET_KEY_BASE",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWSAccessKeyId",
    "STRIPE_SECRET_KEY",
    "JWT_SECRET",
    "client_secret",
    "SESSION_SECRETS",
    "APIKEY",
    "apiKey",
    "X-Api-Key",
    "key",
    "PRIVATE_KEY",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "sig",
    "AUTH",
    "BASIC_AUTH",
    "AUTH_HEADER",
    "AUTH_TOKEN_HEADER",
    "HTTP_AUTHORIZATION",
    "CREDENTIALS",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "MONKEY_MODE", // "KEY" ending a word still counts: masking too much is the safe side
  ])("%s is secret", (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each([
    "PWD", // the shell's working directory
    "OLDPWD",
    "HOME",
    "PATH",
    "PORT",
    "DYNO",
    "DATABASE_HOST",
    "DATABASE_URL",
    "PASSAGE_COUNT",
    "PASSENGER_APP_ENV",
    "COMPASS_URL",
    "AUTHOR",
    "OAUTH_CALLBACK",
    "AUTH_URL",
    "SIGNUP_URL",
    "KEYBOARD_LAYOUT",
    "CASSANDRA_KEYSPACE",
    "KEYCLOAK_REALM",
    "SEARCH_KEYWORDS",
    "TOKENIZERS_PARALLELISM",
    "SECRETARY_EMAIL",
    "PASSWORDLESS_LOGIN",
    "REDIS_KEY_PREFIX",
    "SSL_KEY_PATH",
    "DB_PASSWORD_FILE",
    "OAUTH_TOKEN_URL",
    "TOKEN_TYPE",
    "AWS_SECRET_NAME",
    "X-Amz-SignedHeaders",
    "sslmode",
  ])("%s is not", (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});
