// A driveable official socket.io 4.8.4 server, for the interop tests of socketeer's client.
//
// Usage: node sio_server.mjs [<options JSON>]
//   options: {"port": 0, "recovery": true, "pingInterval": ms, "pingTimeout": ms,
//             "transports": [...], "parser": "msgpack", "cookie": true,
//             "maxHttpBufferSize": bytes, "logRequests": true}
//   With "logRequests", every HTTP request and WebSocket upgrade is printed as "request"
//   {kind, url, headers}.
//   Namespaces: "/" and "/chat" accept everyone; "/private" needs auth {"token": "secret"}
//   and refuses others with Error("not authorized") whose data is {"reason": "bad token"}.
//
// Every socket:
//   - reports each incoming event (onAny) and acknowledges it, when asked, with its own
//     arguments (so "echo" -- or any event -- with an ack is an echo);
//   - "join" (room) joins the room; "leave" (room) leaves it.
//
// Binary values travel as {"$bytes": "<hex>"} in both directions, at any depth.
//
// Commands (JSON lines on stdin):
//   {"cmd":"emit","nsp":"/","to":"room-or-socket-id","event":"e","args":[...]}
//        io.of(nsp)(.to(to)).emit(event, ...args)  (without "to": everyone)
//   {"cmd":"emit_ack","nsp":"/","id":"sid","event":"e","args":[...],"timeout":ms,"ref":"r"}
//        socket.timeout(ms).emitWithAck(...); prints "ack" {ref, args} or {ref, error}
//   {"cmd":"disconnect","nsp":"/","id":"sid","close":false}  socket.disconnect(close)
//   {"cmd":"cut","id":"sid"}   close the socket's Engine.IO connection (the client sees
//                              "transport close" and reconnects; recoverable)
//   {"cmd":"stop"}   stop listening and destroy every TCP connection, keeping the io
//                    instance (sessions, rooms, kept packets): prints "stopped"
//   {"cmd":"start"}  listen again on the same port: prints "listening"
//   {"cmd":"rooms","nsp":"/","id":"sid"}  prints "rooms" {rooms}
// End of stdin closes the server and exits.
//
// Events (JSON lines on stdout): listening {port}, connection {nsp, id, engine, recovered,
// auth, transport, query, headers}, event {nsp, id, name, args, ack}, disconnect {nsp, id, reason},
// upgrade {id, transport}, ack {ref, args | error}, stopped, rooms {rooms}, command_error.

import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

function print(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function toJson(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return { $bytes: Buffer.from(value).toString("hex") };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "function") return { $function: true };
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

function fromJson(value) {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value && typeof value === "object") {
    if (typeof value.$bytes === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bytes, "hex");
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJson(v)]));
  }
  return value;
}

const options = JSON.parse(process.argv[2] || "{}");
const httpServer = createServer();
const connections = new Set();
httpServer.on("connection", (socket) => {
  connections.add(socket);
  socket.on("close", () => connections.delete(socket));
});

const io = new Server(httpServer, {
  pingInterval: options.pingInterval ?? 25000,
  pingTimeout: options.pingTimeout ?? 20000,
  ...(options.transports ? { transports: options.transports } : {}),
  ...(options.maxHttpBufferSize ? { maxHttpBufferSize: options.maxHttpBufferSize } : {}),
  ...(options.cookie ? { cookie: { name: "io", httpOnly: true, path: "/" } } : {}),
  ...(options.parser === "msgpack" ? { parser: msgpackParser } : {}),
  ...(options.recovery
    ? { connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true } }
    : {}),
});

// After the io server is attached: engine.io takes over the earlier "request" listeners.
if (options.logRequests) {
  httpServer.prependListener("request", (req) =>
    print("request", { kind: "http", url: req.url, headers: req.headers }),
  );
  httpServer.prependListener("upgrade", (req) =>
    print("request", { kind: "websocket", url: req.url, headers: req.headers }),
  );
}

function setup(nsp) {
  nsp.on("connection", (socket) => {
    print("connection", {
      nsp: nsp.name,
      id: socket.id,
      engine: socket.conn.id,
      recovered: socket.recovered,
      auth: toJson(socket.handshake.auth),
      transport: socket.conn.transport.name,
      query: socket.handshake.query,
      headers: socket.handshake.headers,
    });
    socket.conn.on("upgrade", (transport) =>
      print("upgrade", { id: socket.id, transport: transport.name }),
    );
    socket.onAny((name, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      print("event", { nsp: nsp.name, id: socket.id, name, args: toJson(args), ack: !!ack });
      if (name === "join") socket.join(args[0]);
      if (name === "leave") socket.leave(args[0]);
      if (ack && name !== "silent") ack(...args); // "silent": an ack that never comes
    });
    socket.on("disconnect", (reason) => print("disconnect", { nsp: nsp.name, id: socket.id, reason }));
  });
}

setup(io.of("/"));
setup(io.of("/chat"));
const privateNsp = io.of("/private");
privateNsp.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { reason: "bad token" };
  next(err);
});
setup(privateNsp);

let port = options.port ?? 0;
function listen() {
  httpServer.listen(port, "127.0.0.1", () => {
    port = httpServer.address().port;
    print("listening", { port });
  });
}

function socketOf(command) {
  return io.of(command.nsp ?? "/").sockets.get(command.id);
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    print("command_error", { message: String(err) });
    return;
  }
  switch (command.cmd) {
    case "emit": {
      const nsp = io.of(command.nsp ?? "/");
      const target = command.to ? nsp.to(command.to) : nsp;
      target.emit(command.event, ...fromJson(command.args ?? []));
      break;
    }
    case "emit_ack": {
      const socket = socketOf(command);
      if (!socket) {
        print("ack", { ref: command.ref, error: "no such socket" });
        break;
      }
      try {
        const answer = await socket
          .timeout(command.timeout ?? 5000)
          .emitWithAck(command.event, ...fromJson(command.args ?? []));
        print("ack", { ref: command.ref, args: toJson([answer]) });
      } catch (err) {
        print("ack", { ref: command.ref, error: err.message });
      }
      break;
    }
    case "disconnect": {
      const socket = socketOf(command);
      if (socket) socket.disconnect(!!command.close);
      break;
    }
    case "cut": {
      const socket = socketOf(command);
      if (socket) socket.conn.close();
      break;
    }
    case "rooms": {
      const socket = socketOf(command);
      print("rooms", { rooms: socket ? [...socket.rooms] : null });
      break;
    }
    case "stop":
      httpServer.close(() => print("stopped"));
      for (const socket of connections) socket.destroy();
      break;
    case "start":
      listen();
      break;
    default:
      print("command_error", { message: `unknown command ${command.cmd}` });
  }
});
lines.on("close", () => {
  io.close();
  for (const socket of connections) socket.destroy();
  setTimeout(() => process.exit(0), 50);
});
listen();
