/**
 * The two parts of undici that downloads use, loaded at the first request: the connection pool (`Agent`) and
 * the `request` call. Not undici's entry point: that one also loads fetch, WebSocket, the mock agents, the
 * cache stores and more, which would double undici's load time and add some 13 MB to the install step's
 * memory (bench/fetch.ts, bench/compile-memory.ts). `request` here takes a URL and a dispatcher as undici's
 * own does (its entry point wraps the same function the same way); the lockfile pins the version whose files
 * these are, and the download tests run through them.
 */
import type { Dispatcher } from "undici";

/** undici's `request`, bound to the dispatcher it is given. */
export type RequestFunction = (
  url: string | URL,
  options: Omit<Dispatcher.RequestOptions, "origin" | "path" | "method"> & { dispatcher: Dispatcher; method: Dispatcher.HttpMethod },
) => Promise<Dispatcher.ResponseData>;

export interface HttpClient {
  request: RequestFunction;
  agent: Dispatcher;
}

type RequestMethod = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export async function loadHttpClient(agentOptions: import("undici").Agent.Options): Promise<HttpClient> {
  const [{ default: Agent }, { default: requestMethod }] = await Promise.all([
    import("undici/lib/dispatcher/agent.js") as Promise<{ default: typeof import("undici").Agent }>,
    import("undici/lib/api/api-request.js") as Promise<{ default: RequestMethod }>,
  ]);
  const request: RequestFunction = (url, { dispatcher, ...options }) => {
    const target = typeof url === "string" ? new URL(url) : url;
    return requestMethod.call(dispatcher, { ...options, origin: target.origin, path: `${target.pathname}${target.search}` });
  };
  return { request, agent: new Agent(agentOptions) };
}
