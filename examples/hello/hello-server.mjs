// The demo "server": the demo's release packs a Linux ELF named `hello` (this machine's Node.js binary,
// since a fresh machine may have no C compiler), and the Procfile runs it with this script. It answers
// with what it was started with, so the demo can show the exec: its PID, argv[0], executable and variables.
import { createServer } from "node:http";
import { readlinkSync } from "node:fs";

const [host, port] = (process.env.HELLO_LISTEN ?? "0.0.0.0:5000").split(":");
const server = createServer((request, response) => {
  response.setHeader("content-type", "application/json");
  response.end(
    JSON.stringify({
      greeting: process.env.HELLO_GREETING,
      pid: process.pid,
      argv0: process.argv0,
      executable: readlinkSync("/proc/self/exe"),
      database: {
        address: process.env.HELLO_DB_ADDRESS,
        user: process.env.HELLO_DB_USER,
        password: process.env.HELLO_DB_PASSWORD ? "(set, not shown)" : "(missing)",
        name: process.env.HELLO_DB_NAME,
      },
    }),
  );
});
server.listen(Number(port), host, () => console.log(`hello: listening on ${host}:${port} as PID ${process.pid}`));
process.on("SIGTERM", () => {
  console.log("hello: SIGTERM received, closing");
  server.close(() => process.exit(0));
});
