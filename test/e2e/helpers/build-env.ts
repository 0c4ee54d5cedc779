/** What the end-to-end suites share about the environments they build and boot in. */
import { join } from "node:path";

/**
 * npm settings for a compile in the tests. A build runs no npm (the bootstrapper is the committed dist/); these
 * keep npm offline all the same, so anything that did call it would fail at once rather than reach a registry.
 */
export function offlineNpm(): NodeJS.ProcessEnv {
  return {
    npm_config_offline: "true",
    npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? "/root", ".npm"),
  };
}

/** Config vars as they are at boot, rotated after the build: the binary must get these, not the build-time ones. */
export const RUNTIME_CONFIG = {
  DATABASE_URL: "postgres://runtime_user:p%40ss%3Aw%2Frd@db.internal:6543/runtime_db",
  APP_MODE: "staging",
};

/** What test/fixtures/web-app's binary must then see, started with PORT=5123. */
export const RUNTIME_ENV_EXPECTED = {
  DATABASE_URL: RUNTIME_CONFIG.DATABASE_URL,
  DATABASE_HOST: "db.internal",
  DATABASE_PORT: "6543",
  DATABASE_USER: "runtime_user",
  DATABASE_PASSWORD: "p@ss:w/rd",
  DATABASE_NAME: "runtime_db",
  APP_DB_HOST: "db.internal",
  APP_DB_PASSWORD: "p@ss:w/rd",
  APP_LISTEN: "0.0.0.0:5123",
  APP_MODE: "staging",
  APP_GREETING: "literal ${NOT_EXPANDED}",
  PORT: "5123",
};
