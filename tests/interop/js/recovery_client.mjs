// A socket.io-client for the connection-state recovery and parser interop tests.
//
// Usage: node recovery_client.mjs <url> [<options JSON>]
//   options: socket.io-client options, plus "parser": "msgpack" to use
//   socket.io-msgpack-parser. Reconnection delays default to 50-100 ms.
//
// Commands (JSON lines on stdin):
//   {"cmd":"cut"}                          close the Engine.IO connection without a
//                                          namespace disconnect (the manager reconnects)
//   {"cmd":"emit","event":"e","args":[...],"binary":true}  emit (args as JSON; with
//                                          "binary", every string "hex:XX" becomes bytes)
//   {"cmd":"ack","event":"e","args":[...]} emitWithAck; prints "ack" with the answer
//   {"cmd":"close"}                        disconnect
//
// Events (JSON lines on stdout): ready, connect {id, recovered, transport},
// event {name, args} (bytes as {"hex": "..."}), ack {args}, disconnect {reason},
// connect_error {message, data}.

import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { createInterface } from "node:readline";

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function toJson(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return { hex: Buffer.from(value).toString("hex") };
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}

function fromJson(value) {
  if (typeof value === "string" && value.startsWith("hex:")) return Buffer.from(value.slice(4), "hex");
  if (Array.isArray(value)) return value.map(fromJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJson(v)]));
  }
  return value;
}

const url = process.argv[2];
const { parser, ...options } = JSON.parse(process.argv[3] || "{}");
const socket = io(url, {
  reconnectionDelay: 50,
  reconnectionDelayMax: 100,
  ...options,
  ...(parser === "msgpack" ? { parser: msgpackParser } : {}),
});

socket.on("connect", () =>
  emit("connect", { id: socket.id, recovered: socket.recovered, transport: socket.io.engine.transport.name }),
);
socket.on("disconnect", (reason) => emit("disconnect", { reason }));
socket.on("connect_error", (err) => emit("connect_error", { message: err.message, data: err.data ?? null }));
socket.onAny((name, ...args) => {
  const last = args[args.length - 1];
  if (typeof last === "function") {
    args.pop();
    last(...args); // echo acknowledgements
  }
  emit("event", { name, args: toJson(args) });
});

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    emit("command_error", { message: String(err) });
    return;
  }
  switch (command.cmd) {
    case "cut":
      socket.io.engine.close();
      break;
    case "emit":
      socket.emit(command.event, ...fromJson(command.args ?? []));
      break;
    case "ack": {
      const answer = await socket.timeout(5000).emitWithAck(command.event, ...fromJson(command.args ?? []));
      emit("ack", { args: toJson([answer]) });
      break;
    }
    case "close":
      socket.disconnect();
      break;
    default:
      emit("command_error", { message: `unknown command ${command.cmd}` });
  }
});
lines.on("close", () => {
  socket.disconnect();
  setTimeout(() => process.exit(0), 50);
});
emit("ready");
