/**
 * `execpackctl env` on secrets whose names do not say so, or say it in a word the name table lacked:
 * a GitHub PAT, an Authorization header, a PEM private key, a password inside a DSN or JDBC string, a JWT
 * (alone or as a jwt= parameter), and webhook URLs whose secret is their path. Each value is masked, and
 * ordinary values next to them are not.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSecretValue } from "../../src/common/secrets.js";
import { showEnvironment } from "../../src/ctl/inspect.js";

const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhcHAtdXNlciJ9.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ";
const SECRETS: Array<[string, string]> = [
  ["GH_PAT", "ghp_patsecret0000"],
  ["AUTHORIZATION", "Bearer authsecret0000"],
  ["TLS_PRIVATE", "-----BEGIN RSA PRIVATE KEY-----\nMIIpemsecret0000\n-----END RSA PRIVATE KEY-----"],
  ["PG_CONN", "host=db.internal port=5432 dbname=app user=app password=dsnsecret0000 sslmode=require"],
  ["JDBC_CONNECTION", "jdbc:postgresql://db.internal:5432/app?user=app&password=jdbcsecret0000"],
  ["ODBC_CONNECTION", "Driver={PostgreSQL};Server=db;Database=app;Uid=app;Pwd=odbcsecret0000;"],
  ["SESSION", JWT],
  ["CALLBACK", `https://api.internal/callback?jwt=${JWT}`],
  ["SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/slacksecret0000"],
  ["ALERTS", "https://discord.com/api/webhooks/123/discordsecret0000"],
];
const PLAIN: Array<[string, string]> = [
  ["APP_MODE", "production"],
  ["DOCS_URL", "https://docs.example.org/guide/webhooks-and-you"],
  ["SSL_KEY_PATH", "/app/key.pem"],
];

describe("execpackctl env masks secrets told by their value or by a new name word", () => {
  let app: string;
  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), "execpack-inspect-secrets-"));
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it.each(SECRETS)("%s", (name, value) => {
    const text = showEnvironment(app, { [name]: value }, { reveal: false });
    expect(text).toContain(name);
    expect(text).not.toMatch(/secret0000|c2lnbmF0dXJl/);
  });

  it.each([["APP_MODE", "production"], ["DOCS_URL", "https://docs.example.org/guide/webhooks-and-you"], ["SSL_KEY_PATH", "/app/key.pem"]])(
    "still shows %s",
    (name, value) => {
      expect(showEnvironment(app, { [name]: value }, { reveal: false })).toContain(value);
    },
  );

  it("tells the values apart from ordinary ones", () => {
    for (const [, value] of SECRETS.filter(([name]) => !["GH_PAT", "AUTHORIZATION"].includes(name))) expect(isSecretValue(value), value).toBe(true);
    for (const [, value] of PLAIN.slice(0, 3)) expect(isSecretValue(value), value).toBe(false);
  });
});
