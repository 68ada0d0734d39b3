// Node socket.io 4.8: the reference server of the benchmark suite (bench/README.md).
//
//   node bench/node/server.mjs --port 3000 [--host 127.0.0.1]
//
// The same three handlers as every server under test:
//   "echo"      acknowledges with its arguments
//   "join"      joins room "room", then acknowledges
//   "broadcast" emits "news" with its argument to room "room"
// Engine.IO settings are the defaults of socket.io (ping 25 s / 20 s, 1 MB buffer, no
// per-message deflate), written out so that every server is visibly configured alike.
import { createServer } from "node:http";
import { Server } from "socket.io";

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = option("--host", "127.0.0.1");
const port = Number(option("--port", "3000"));

const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("join", (ack) => {
    socket.join("room");
    if (typeof ack === "function") ack();
  });
  socket.on("broadcast", (data) => {
    io.to("room").emit("news", data);
  });
});

httpServer.listen({ host, port, backlog: 2048 }, () => {
  console.log(`node socket.io ${process.version} listening on ${host}:${port}`);
});

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
