// The undici files that fetch/http-client.ts loads directly (CommonJS; their types are those of the entry point).
declare module "undici/lib/dispatcher/agent.js";
declare module "undici/lib/api/api-request.js";
