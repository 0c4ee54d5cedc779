/**
 * A real HTTP server on 127.0.0.1 that misbehaves on purpose, one scripted reply per request:
 * statuses, redirects, slow headers, bodies cut short by a clean close or by a TCP reset.
 * Each path has a script; requests consume it in order and the last reply repeats.
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Reply =
  | { kind: "send"; status: number; headers: Record<string, string>; body: Buffer }
  /** Announces the whole body in Content-Length, sends `sentBytes` of it, then closes cleanly (FIN). */
  | { kind: "truncate"; body: Buffer; sentBytes: number }
  /** Announces the whole body, sends half of it, then resets the connection (RST). */
  | { kind: "reset"; body: Buffer }
  /** Announces the whole body, sends `sentBytes` of it, then goes silent with the connection open. */
  | { kind: "stall"; body: Buffer; sentBytes: number }
  /** Waits before answering at all: for header timeouts. */
  | { kind: "delay"; ms: number; then: Reply };

export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
}

export function ok(body: Buffer | string, headers: Record<string, string> = {}): Reply {
  return { kind: "send", status: 200, headers, body: Buffer.from(body) };
}

export function status(code: number, headers: Record<string, string> = {}, body = code === 304 ? "" : `status ${code}`): Reply {
  return { kind: "send", status: code, headers: { "content-type": "text/plain", ...headers }, body: Buffer.from(body) };
}

export function redirect(location: string, code = 302): Reply {
  return status(code, { location });
}

export function truncate(body: Buffer | string, sentBytes: number): Reply {
  return { kind: "truncate", body: Buffer.from(body), sentBytes };
}

export function reset(body: Buffer | string): Reply {
  return { kind: "reset", body: Buffer.from(body) };
}

export function stall(body: Buffer | string, sentBytes: number): Reply {
  return { kind: "stall", body: Buffer.from(body), sentBytes };
}

export function delay(ms: number, then: Reply): Reply {
  return { kind: "delay", ms, then };
}

export interface FaultServer {
  /** `http://127.0.0.1:<port><path>`, or with user-info when given (`user:s3cret@`). */
  url(path: string, userinfo?: string): string;
  /** Sets (or replaces) the script of a path and forgets its recorded requests. */
  script(path: string, replies: readonly Reply[]): void;
  requests(path: string): readonly RecordedRequest[];
  close(): Promise<void>;
}

export async function startFaultServer(routes: Record<string, readonly Reply[]> = {}): Promise<FaultServer> {
  const scripts = new Map<string, Reply[]>();
  const seen = new Map<string, RecordedRequest[]>();
  const setScript = (path: string, replies: readonly Reply[]): void => {
    scripts.set(path, [...replies]);
    seen.set(path, []);
  };
  for (const [path, replies] of Object.entries(routes)) setScript(path, replies);

  const server = createServer((request, response) => {
    const path = request.url ?? "/";
    const recorded = seen.get(path) ?? [];
    recorded.push({ path, headers: request.headers });
    seen.set(path, recorded);
    const script = scripts.get(path);
    // The last reply repeats, so "always 503" is a one-element script.
    const reply = script && script.length > 1 ? script.shift() : script?.[0];
    void play(reply ?? status(404), request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: (path, userinfo) => `http://${userinfo ? `${userinfo}@` : ""}127.0.0.1:${port}${path}`,
    script: setScript,
    requests: (path) => seen.get(path) ?? [],
    close: () => closeServer(server),
  };
}

async function play(reply: Reply, request: IncomingMessage, response: ServerResponse): Promise<void> {
  switch (reply.kind) {
    case "send":
      response.writeHead(reply.status, { "content-length": String(reply.body.length), ...reply.headers });
      response.end(reply.body);
      return;
    case "truncate":
      response.writeHead(200, { "content-length": String(reply.body.length) });
      response.write(reply.body.subarray(0, reply.sentBytes), () => request.socket.end());
      return;
    case "reset":
      response.writeHead(200, { "content-length": String(reply.body.length) });
      response.write(reply.body.subarray(0, reply.body.length >> 1), () => request.socket.resetAndDestroy());
      return;
    case "stall":
      response.writeHead(200, { "content-length": String(reply.body.length) });
      response.write(reply.body.subarray(0, reply.sentBytes)); // and nothing more: close() cuts the socket
      return;
    case "delay":
      await new Promise((resolve) => setTimeout(resolve, reply.ms));
      // The client may have given up meanwhile; answering a closed socket is harmless.
      if (!request.socket.destroyed) await play(reply.then, request, response);
      return;
  }
}

function closeServer(server: Server): Promise<void> {
  // Keep-alive sockets from the client would otherwise hold close() open.
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
