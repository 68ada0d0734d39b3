// An official socket.io 4.8.4 server on @socket.io/redis-adapter 8.3.0: the JS node of the
// mixed Python + Node cluster tests. It also drives @socket.io/redis-emitter 5.1.0.
//
// Usage: node redis_node.mjs <options JSON>
//   options: {"redis": "redis://127.0.0.1:6379", "key": "<prefix>", "sharded": false,
//             "subscriptionMode": "dynamic", "label": "js", "requestsTimeout": ms,
//             "streams": {"streamName", "sessionKeyPrefix"} (use @socket.io/redis-streams-adapter
//             0.3.1 instead, channelPrefix = key), "recovery": true (connectionStateRecovery)}
//
// Every connecting socket joins the rooms of its auth ("rooms": [...]) and takes
// socket.data = auth.data. Server-side events "hello" and "ping" are printed; "ping"
// answers its ack with {"node": label, "args": [...]}.
//
// Binary values travel as {"$bytes": "<hex>"} in both directions, at any depth.
//
// Commands (JSON lines on stdin); "ref" is echoed in the answer line:
//   {"cmd":"emit","to":[..],"except":[..],"event":"e","args":[..],"volatile":false}
//   {"cmd":"emit_ack","to":[..],"except":[..],"event":"e","args":[..],"timeout":ms,"ref":r}
//        prints "emit_ack" {ref, responses} or {ref, error, responses}
//   {"cmd":"fetch","to":[..],"except":[..],"ref":r}  prints "fetched" {ref, sockets}
//   {"cmd":"join","to":[..],"except":[..],"rooms":[..]} / "leave" / {"cmd":"disconnect",...,"close":b}
//   {"cmd":"remote","id":"sid","op":"emit"|"join"|"leave"|"disconnect","event","args","room","ref"}
//        through fetchSockets() (a RemoteSocket when the socket lives on another node);
//        prints "remote" {ref, found}
//   {"cmd":"sse","event":"e","args":[..]}            io.serverSideEmit
//   {"cmd":"sse_ack","event":"e","args":[..],"ref":r} prints "sse_ack" {ref, responses|error}
//   {"cmd":"count","ref":r}                            prints "count" {ref, count}
//   {"cmd":"emitter","nsp":"/","to":[..],"except":[..],"op":"emit"|"join"|"leave"|"disconnect"|"sse",
//    "event","args","rooms","close"}                   the same through @socket.io/redis-emitter
// End of stdin closes everything and exits.
//
// Events (stdout): listening {port}, connection {id, auth}, disconnect {id, reason},
// server_event {name, args}, and the answers above.

import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createClient } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";

function print(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function toJson(value) {
  if (value === undefined) return null;
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
const label = options.label || "js";
const pubClient = createClient({ url: options.redis });
const subClient = pubClient.duplicate();
const emitterClient = pubClient.duplicate();
for (const client of [pubClient, subClient, emitterClient]) {
  client.on("error", (err) => print("redis_error", { message: String(err) }));
}
await Promise.all([pubClient.connect(), subClient.connect(), emitterClient.connect()]);

const adapter = options.streams
  ? createStreamsAdapter(pubClient, {
      channelPrefix: options.key,
      streamName: options.streams.streamName,
      sessionKeyPrefix: options.streams.sessionKeyPrefix,
      blockTimeInMs: 1000,
    })
  : options.sharded
  ? createShardedAdapter(pubClient, subClient, {
      channelPrefix: options.key,
      subscriptionMode: options.subscriptionMode || "dynamic",
    })
  : createAdapter(pubClient, subClient, {
      key: options.key,
      requestsTimeout: options.requestsTimeout || 5000,
    });

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter,
  ...(options.recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 60000 } } : {}),
});
const emitter = new Emitter(emitterClient, { key: options.key });

io.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  socket.data = auth.data ?? null;
  if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
  print("connection", { id: socket.id, auth: toJson(auth), recovered: socket.recovered });
  socket.on("disconnect", (reason) => print("disconnect", { id: socket.id, reason }));
});
io.on("hello", (...args) => print("server_event", { name: "hello", args: toJson(args) }));
io.on("ping", (...args) => {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  print("server_event", { name: "ping", args: toJson(args) });
  if (ack) ack({ node: label, args });
});

function target(command) {
  let operator = io.of(command.nsp || "/");
  if (command.to && command.to.length) operator = operator.to(command.to);
  if (command.except && command.except.length) operator = operator.except(command.except);
  return operator;
}

function describeSocket(socket) {
  return {
    id: socket.id,
    rooms: [...socket.rooms].sort(),
    data: toJson(socket.data),
    auth: toJson(socket.handshake.auth),
  };
}

async function run(command) {
  const ref = command.ref ?? null;
  const args = fromJson(command.args || []);
  switch (command.cmd) {
    case "emit": {
      let operator = target(command);
      if (command.volatile) operator = operator.volatile;
      operator.emit(command.event, ...args);
      break;
    }
    case "emit_ack": {
      try {
        const responses = await target(command).timeout(command.timeout).emitWithAck(command.event, ...args);
        print("emit_ack", { ref, responses: toJson(responses) });
      } catch (err) {
        print("emit_ack", { ref, error: String(err.message), responses: toJson(err.responses || []) });
      }
      break;
    }
    case "fetch": {
      try {
        const sockets = await target(command).fetchSockets();
        print("fetched", { ref, sockets: sockets.map(describeSocket) });
      } catch (err) {
        print("fetched", { ref, error: String(err.message) });
      }
      break;
    }
    case "join":
      target(command).socketsJoin(command.rooms);
      break;
    case "leave":
      target(command).socketsLeave(command.rooms);
      break;
    case "disconnect":
      target(command).disconnectSockets(!!command.close);
      break;
    case "remote": {
      const sockets = await io.fetchSockets();
      const socket = sockets.find((s) => s.id === command.id);
      if (socket) {
        if (command.op === "emit") socket.emit(command.event, ...args);
        else if (command.op === "join") socket.join(command.room);
        else if (command.op === "leave") socket.leave(command.room);
        else if (command.op === "disconnect") socket.disconnect(!!command.close);
      }
      print("remote", { ref, found: !!socket });
      break;
    }
    case "sse":
      io.serverSideEmit(command.event, ...args);
      break;
    case "sse_ack": {
      try {
        const responses = await io.serverSideEmitWithAck(command.event, ...args);
        print("sse_ack", { ref, responses: toJson(responses) });
      } catch (err) {
        print("sse_ack", { ref, error: String(err.message) });
      }
      break;
    }
    case "count":
      print("count", { ref, count: await io.of("/").adapter.serverCount() });
      break;
    case "emitter": {
      let operator = emitter.of(command.nsp || "/");
      if (command.to && command.to.length) operator = operator.to(command.to);
      if (command.except && command.except.length) operator = operator.except(command.except);
      if (command.op === "emit") operator.emit(command.event, ...args);
      else if (command.op === "join") operator.socketsJoin(command.rooms);
      else if (command.op === "leave") operator.socketsLeave(command.rooms);
      else if (command.op === "disconnect") operator.disconnectSockets(!!command.close);
      else if (command.op === "sse") emitter.of(command.nsp || "/").serverSideEmit(command.event, ...args);
      print("emitted", { ref });
      break;
    }
    default:
      print("command_error", { message: `unknown command ${command.cmd}` });
  }
}

httpServer.listen(0, "127.0.0.1", () => print("listening", { port: httpServer.address().port }));

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch {
    print("command_error", { message: `not JSON: ${line.slice(0, 200)}` });
    return;
  }
  run(command).catch((err) => print("command_error", { message: String(err && err.stack) }));
});
lines.on("close", async () => {
  io.close();
  await Promise.allSettled([pubClient.quit(), subClient.quit(), emitterClient.quit()]);
  process.exit(0);
});
process.stdout.on("error", () => process.exit(0));
