/**
 * The app.json files people deploy with the Deploy button: the root template and every example's. Each is
 * checked against Heroku's app.json schema (SchemaStore's validation rules, vendored in
 * test/fixtures/app-json-schema/) and against what execpack needs on top of it: a described BINARY_URL,
 * optional knobs marked optional (Heroku treats every env entry as required unless told otherwise), secrets
 * generated once by Heroku rather than written into the file, and this buildpack in `buildpacks`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const SCHEMA = join(REPO, "test/fixtures/app-json-schema/heroku-app-json.schema.json");
const BUILDPACK_URL = "https://github.com/execpack/execpack";
const EXAMPLE_NAMES = readdirSync(join(REPO, "examples"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
const APP_JSON_FILES = ["app.json", ...EXAMPLE_NAMES.map((name) => `examples/${name}/app.json`)];
/** The examples that deploy a real release with the Deploy button (examples/hello is the local demo). */
const DEPLOY_EXAMPLES = ["fleet", "postgrest", "gotify"];

/** execpack's config vars that have a default: an app.json must not make Heroku demand them. */
const OPTIONAL_SETTINGS = ["BINARY_SHA256", "BINARY_NAME", "BINARY_FETCH", "BINARY_TOKEN", "BINARY_ALLOW_HTTP", "BINARY_FETCH_TIMEOUT", "BINARY_ASSET", "BINARY_GITHUB_API_URL"];
/** src/common/secrets.ts's names, plus the `_PASS` suffix some servers use (GOTIFY_DEFAULTUSER_PASS). */
const SECRET_NAME = /PASSWORD|PASSWD|_PASS$|SECRET|TOKEN|KEY|CREDENTIAL/i;

interface EnvEntry {
  description?: string;
  value?: string;
  required?: boolean;
  generator?: string;
}

type Addon = string | { plan: string };

interface AppJson {
  name?: string;
  addons?: Addon[];
  environments?: Record<string, { addons?: Addon[]; env?: AppJson["env"] }>;
  env?: Record<string, string | EnvEntry>;
  buildpacks?: Array<{ url?: string }>;
  formation?: Record<string, { quantity?: number; size?: string }>;
  [key: string]: unknown;
}

// Heroku's schema puts `additionalItems` beside a non-array `items` (for `addons`), which draft-07 ignores
// and ajv's strict mode refuses to compile. Strict mode stays on, in "log" mode, and the warnings are
// collected: the test below pins them to this one, so any other oddity in a new copy of the schema shows up.
const KNOWN_SCHEMA_WARNING = 'strict mode: "additionalItems" is ignored when "items" is not an array of schemas';
const schemaWarnings: string[] = [];
const ajv = new Ajv({
  allErrors: true,
  strictSchema: "log",
  logger: {
    log: () => undefined,
    warn: (...parts: unknown[]) => void schemaWarnings.push(parts.join(" ")),
    error: (...parts: unknown[]) => {
      throw new Error(parts.join(" "));
    },
  },
});
ajv.addFormat("uri", (value: string) => URL.canParse(value));
const validateSchema = ajv.compile(JSON.parse(readFileSync(SCHEMA, "utf8")) as object);

function schemaErrors(app: unknown): string[] {
  if (validateSchema(app)) return [];
  return (validateSchema.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? ""}`);
}

/** What execpack needs beyond Heroku's schema, as sentences naming the rule broken; empty when all hold. */
function contractViolations(app: AppJson): string[] {
  const problems: string[] = [];
  const env = app.env ?? {};
  const entry = (name: string): EnvEntry | undefined => {
    const value = env[name];
    return typeof value === "string" ? { value } : value;
  };

  const binaryUrl = entry("BINARY_URL");
  if (!binaryUrl) problems.push("env.BINARY_URL is missing");
  else {
    if (!binaryUrl.description?.trim()) problems.push("env.BINARY_URL has no description");
    if (binaryUrl.required === false) problems.push("env.BINARY_URL is not required");
    if (binaryUrl.value !== undefined && !/^(https:\/\/|github:)/.test(binaryUrl.value)) problems.push("env.BINARY_URL's value is neither an https URL nor a github: release name");
  }
  for (const name of OPTIONAL_SETTINGS) {
    const setting = entry(name);
    if (setting && setting.value === undefined && setting.required !== false) {
      problems.push(`env.${name} has no value and lacks "required": false, so Heroku would demand it`);
    }
  }
  const fetch = entry("BINARY_FETCH")?.value;
  if (fetch !== undefined && fetch !== "build" && fetch !== "boot") problems.push("env.BINARY_FETCH is neither build nor boot");
  for (const [name, value] of Object.entries(env)) {
    const setting = typeof value === "string" ? { value } : value;
    if (setting.generator !== undefined && setting.value !== undefined) problems.push(`env.${name} has both a generator and a value`);
    if (SECRET_NAME.test(name) && setting.value !== undefined) {
      problems.push(`env.${name} is a secret written into app.json: use "generator": "secret" or let the user enter it`);
    }
  }
  if (!app.buildpacks?.some((buildpack) => buildpack.url === BUILDPACK_URL)) problems.push(`buildpacks does not name ${BUILDPACK_URL}`);
  if (!app.formation?.["web"]) problems.push("formation has no web process");
  problems.push(...environmentViolations(app));
  return problems;
}

/** The add-on service of a plan: `heroku-postgresql:in-dyno` → `heroku-postgresql`. */
function services(addons: readonly Addon[] | undefined): string[] {
  return (addons ?? []).map((addon) => (typeof addon === "string" ? addon : addon.plan).split(":")[0]!).sort();
}

function plans(addons: readonly Addon[] | undefined): string[] {
  return (addons ?? []).map((addon) => (typeof addon === "string" ? addon : addon.plan)).sort();
}

/**
 * Heroku CI and review apps read app.json's `environments`: a CI app gets the add-ons the binary.env needs
 * (the same services as the app, any plan), a declared review environment differs from the app (else it says
 * nothing), and neither writes a secret into the file.
 */
function environmentViolations(app: AppJson): string[] {
  const problems: string[] = [];
  const test = app.environments?.["test"];
  if (!test) problems.push("environments.test is missing: a Heroku CI run would get no add-ons");
  else if (JSON.stringify(services(test.addons ?? app.addons)) !== JSON.stringify(services(app.addons))) {
    problems.push(`environments.test's add-ons (${services(test.addons).join(", ")}) are not the app's services (${services(app.addons).join(", ")})`);
  }
  const review = app.environments?.["review"];
  if (review && JSON.stringify(plans(review.addons ?? app.addons)) === JSON.stringify(plans(app.addons))) {
    problems.push("environments.review repeats the app's add-ons: leave it out");
  }
  for (const [name, environment] of Object.entries(app.environments ?? {})) {
    for (const [variable, value] of Object.entries(environment.env ?? {})) {
      const setting = typeof value === "string" ? { value } : value;
      if (SECRET_NAME.test(variable) && setting.value !== undefined) problems.push(`environments.${name}.env.${variable} is a secret written into app.json`);
    }
  }
  return problems;
}

function readAppJson(file: string): AppJson {
  return JSON.parse(readFileSync(join(REPO, file), "utf8")) as AppJson;
}

describe("app.json", () => {
  it("compiles Heroku's schema with no strict-mode warning but the known one", () => {
    expect(schemaWarnings).toEqual([KNOWN_SCHEMA_WARNING]);
  });

  it("finds the root template and every Deploy-button example", () => {
    expect(APP_JSON_FILES).toEqual(expect.arrayContaining(["app.json", ...DEPLOY_EXAMPLES.map((name) => `examples/${name}/app.json`)]));
  });

  it.each(APP_JSON_FILES)("%s is valid against Heroku's app.json schema", (file) => {
    expect(schemaErrors(readAppJson(file))).toEqual([]);
  });

  it.each(APP_JSON_FILES)("%s keeps execpack's contract", (file) => {
    expect(contractViolations(readAppJson(file))).toEqual([]);
  });

  it("the root template asks for BINARY_URL, offers every setting of the Deploy form and generates a secret", () => {
    const env = readAppJson("app.json").env ?? {};
    expect(env["BINARY_URL"]).toMatchObject({ required: true });
    expect(env["BINARY_URL"]).not.toHaveProperty("value");
    expect(env["BINARY_FETCH"]).toMatchObject({ value: "build" });
    expect(Object.keys(env)).toEqual(expect.arrayContaining(["BINARY_SHA256", "BINARY_NAME", "BINARY_ASSET"]));
    // The Deploy form is where people first meet BINARY_URL: it says a release may be named.
    expect((env["BINARY_URL"] as EnvEntry).description).toEqual(expect.stringContaining("https://github.com/OWNER/REPO/releases/latest"));
    expect((env["BINARY_URL"] as EnvEntry).description).toEqual(expect.stringContaining("github:OWNER/REPO@TAG"));
    expect(env["APP_SECRET_KEY"]).toEqual({ description: expect.stringContaining("binary.env"), generator: "secret" });
  });

  it.each(DEPLOY_EXAMPLES)("examples/%s is a complete app: Procfile starting execpack, binary.env, README with its Deploy button", (name) => {
    const dir = join(REPO, "examples", name);
    expect(readFileSync(join(dir, "Procfile"), "utf8")).toMatch(/^web: execpack( |$)/m);
    expect(existsSync(join(dir, "binary.env"))).toBe(true);
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    expect(readme).toContain(
      `[![Deploy](https://www.herokucdn.com/deploy/button.svg)](https://heroku.com/deploy?template=https://github.com/execpack/execpack/tree/main/examples/${name})`,
    );
    const binaryUrl = readAppJson(`examples/${name}/app.json`).env?.["BINARY_URL"];
    // Each of these projects publishes on GitHub: the example names the release, not one of its files.
    expect(binaryUrl).toMatchObject({ value: expect.stringMatching(/^https:\/\/github\.com\/[^/]+\/[^/]+\/releases\/tag\/[^/]+$/) });
  });

  type Mutation = (app: AppJson) => void;
  const env = (app: AppJson): Record<string, EnvEntry> => app.env as Record<string, EnvEntry>;

  it.each<[string, Mutation, string]>([
    ["a generator other than secret", (app) => (env(app)["APP_SECRET_KEY"]!.generator = "random"), "/env/APP_SECRET_KEY/generator must match pattern"],
    ["a name longer than 30 characters", (app) => (app.name = "execpack-".repeat(4)), "/name must NOT have more than 30 characters"],
    ["a buildpack without a url", (app) => (app.buildpacks = [{}]), "/buildpacks/0 must have required property 'url'"],
    ["an add-on without a plan", (app) => (app["addons"] = [{ as: "DATABASE" } as unknown as Addon]), "/addons/0 must have required property 'plan'"],
    ["a test environment whose add-ons are not a list", (app) => (app.environments = { test: { addons: "heroku-postgresql:in-dyno" as unknown as Addon[] } }), "/environments/test/addons must be array"],
    ["a website that is not a URL", (app) => (app["website"] = "execpack on GitHub"), '/website must match format "uri"'],
    ["required given as a string", (app) => (env(app)["BINARY_URL"]!.required = "yes" as unknown as boolean), "/env/BINARY_URL/required must be boolean"],
  ])("the schema rejects %s", (_case, mutate, error) => {
    const app = readAppJson("app.json");
    mutate(app);
    expect(schemaErrors(app)).toContainEqual(expect.stringContaining(error));
  });

  it.each<[string, Mutation, string]>([
    ["BINARY_URL without a description", (app) => delete env(app)["BINARY_URL"]!.description, "env.BINARY_URL has no description"],
    ["BINARY_URL made optional", (app) => (env(app)["BINARY_URL"]!.required = false), "env.BINARY_URL is not required"],
    ["BINARY_SHA256 left required by default", (app) => delete env(app)["BINARY_SHA256"]!.required, "env.BINARY_SHA256 has no value and lacks"],
    ["a secret written into the file", (app) => (env(app)["APP_SECRET_KEY"] = { value: "changeme" }), "env.APP_SECRET_KEY is a secret written into app.json"],
    ["another buildpack", (app) => (app.buildpacks = [{ url: "heroku/go" }]), `buildpacks does not name ${BUILDPACK_URL}`],
    ["an unknown BINARY_FETCH", (app) => (env(app)["BINARY_FETCH"]!.value = "sometimes"), "env.BINARY_FETCH is neither build nor boot"],
    ["no test environment", (app) => delete app.environments, "environments.test is missing"],
    ["a CI app without the database", (app) => (app.environments = { test: { addons: ["heroku-redis:in-dyno"] } }), "environments.test's add-ons (heroku-redis)"],
    ["a review app like the app", (app) => (app.environments!["review"] = { addons: ["heroku-postgresql:essential-0"] }), "environments.review repeats"],
    ["a secret in the test env", (app) => (app.environments!["test"]!.env = { APP_SECRET_KEY: "test" }), "environments.test.env.APP_SECRET_KEY is a secret"],
  ])("the contract rejects %s, which Heroku's schema allows", (_case, mutate, problem) => {
    const app = readAppJson("app.json");
    mutate(app);
    expect(schemaErrors(app)).toEqual([]);
    expect(contractViolations(app)).toContainEqual(expect.stringContaining(problem));
  });
});
