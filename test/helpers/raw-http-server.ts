/**
 * A TCP server on 127.0.0.1 that answers HTTP by hand, byte for byte, for what node:http will not do:
 * HTTP/1.0 replies that end with the connection, a FIN right after the body, a Content-Length that lies.
 * Each connection reads the request head, then runs the behaviour given for the request's path.
 */
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { AddressInfo } from "node:net";

export type RawBehaviour = (socket: Socket) => void;

export interface RawServer {
  url(path: string): string;
  /** How many requests each path got. */
  hits(path: string): number;
  close(): Promise<void>;
}

export async function startRawServer(routes: Record<string, RawBehaviour>): Promise<RawServer> {
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {}); // the client giving up mid-reply is part of the game
    let head = "";
    const onData = (chunk: Buffer): void => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      const path = head.split(" ")[1] ?? "/";
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const behaviour = routes[path];
      if (behaviour) behaviour(socket);
      else socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits: (path) => hits.get(path) ?? 0,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Status line and headers; `headers` in order, as written. */
export function head(statusLine: string, headers: Record<string, string | number>): string {
  return `${statusLine}\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n`;
}
