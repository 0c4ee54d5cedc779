/**
 * A connection URL pasted with a leading space or kept quotes (`heroku config:set DATABASE_URL="'postgres://…'"`)
 * never leaves the names binary.env uses silently empty: the line that needs them stops with env.invalid-url,
 * saying why, without the password.
 */
import { describe, expect, it } from "vitest";
import { resolveEnvironment } from "../../src/environment/environment.js";
import { isExecpackError } from "../../src/common/errors.js";
import { formatError } from "../../src/common/output.js";

const URL = "postgres://app:pa55word@db.internal:5432/app_db";

describe("a pasted DATABASE_URL", () => {
  it.each([
    ["a leading space", ` ${URL}`, "whitespace"],
    ["a trailing newline", `${URL}\n`, "whitespace"],
    ["double quotes", `"${URL}"`, "quotes"],
    ["single quotes", `'${URL}'`, "quotes"],
  ])("with %s stops the line that needs it, saying why", (_, value, reason) => {
    let caught: unknown;
    try {
      resolveEnvironment({ configVars: { DATABASE_URL: value }, binaryEnv: { text: "APP_DB_HOST=${DATABASE_HOST}\n", path: "binary.env" } });
    } catch (error) {
      caught = error;
    }
    expect(isExecpackError(caught) && caught.code).toBe("env.invalid-url");
    const text = formatError(caught as never);
    expect(text).toContain("DATABASE_URL");
    expect(text).toContain(reason);
    expect(text).not.toContain("pa55word");
  });

  it("derives as before from the same URL without them", () => {
    const resolved = resolveEnvironment({ configVars: { DATABASE_URL: URL }, binaryEnv: { text: "APP_DB_HOST=${DATABASE_HOST}\n", path: "binary.env" } });
    expect(resolved.env.APP_DB_HOST).toBe("db.internal");
  });
});
