// A driveable engine.io-client, for socketeer's interop tests.
//
// Usage: node engine_client.mjs <url> [<client options as JSON>]
//   e.g. node engine_client.mjs http://127.0.0.1:8000 '{"transports":["websocket"]}'
//   The options object is passed to engine.io-client's Socket as-is (transports, upgrade,
//   path, query, ...). Environment: ENGINE_CLIENT_OPTIONS (JSON) is merged underneath argv.
//
// Commands: one JSON object per line on stdin
//   {"cmd":"send","data":"text"}           send a text message
//   {"cmd":"send_binary","hex":"0102"}     send a binary message (a Buffer)
//   {"cmd":"send_big","size":500000}       send a text message of `size` chars (bigString)
//   {"cmd":"report_after","ms":1200}       print {"event":"alive"} `ms` milliseconds later
//   {"cmd":"close"}                        close the socket from the client side
// End of stdin closes the socket and exits.
//
// Events: one JSON object per line on stdout, {"event": <name>, ...}
//   ready                         the script started (before connecting)
//   open      sid, transport, handshake {sid, upgrades, pingInterval, pingTimeout, maxPayload}
//   upgrading transport           upgrade_error message
//   upgrade   transport
//   ping      count               (a server ping was received and answered)
//   message   data (string) | binary (hex string); length
//   error     message, code, description
//   close     reason, description (strings or null)
//   alive     elapsed_ms, closed (bool), pings (how many so far)
//   command_error message         (a bad command line; the script keeps going)
// The process exits by itself once stdin has ended and the socket is closed.

import { Socket } from "engine.io-client";
import { createInterface } from "node:readline";

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function describe(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "string" || typeof value === "number") return String(value);
  if (value instanceof Error) return value.message;
  if (typeof value === "object" && "description" in value) return describe(value.description);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The big-message pattern; tests/interop/node.py's big_string() builds the same. */
function bigString(size) {
  const chars = [];
  for (let i = 0; i < size; i++) chars.push(String.fromCharCode(97 + (i % 26)));
  return chars.join("");
}

const url = process.argv[2];
if (!url) {
  process.stderr.write("usage: node engine_client.mjs <url> [<options JSON>]\n");
  process.exit(2);
}
const options = {
  ...JSON.parse(process.env.ENGINE_CLIENT_OPTIONS || "{}"),
  ...JSON.parse(process.argv[3] || "{}"),
};

emit("ready", { options });

let handshake = null;
let pings = 0;
let closed = false;
const socket = new Socket(url, options);

socket.on("handshake", (data) => {
  handshake = data;
});
socket.on("open", () => {
  emit("open", { sid: socket.id, transport: socket.transport.name, handshake });
});
socket.on("upgrading", (transport) => emit("upgrading", { transport: transport.name }));
socket.on("upgrade", (transport) => emit("upgrade", { transport: transport.name }));
socket.on("upgradeError", (err) => emit("upgrade_error", { message: describe(err) }));
socket.on("ping", () => {
  pings += 1;
  emit("ping", { count: pings });
});
socket.on("message", (data) => {
  if (data === undefined) {
    // engine.io-parser decodes an empty text message ("4") as a packet without data
    emit("message", { data: "", length: 0 });
  } else if (typeof data === "string") {
    emit("message", { data, length: data.length });
  } else {
    const buf = Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
    emit("message", { binary: buf.toString("hex"), length: buf.length });
  }
});
socket.on("error", (err) => {
  emit("error", {
    message: describe(err),
    code: err && err.code !== undefined ? String(err.code) : null,
    description: err && err.description !== undefined ? describe(err.description) : null,
  });
});
socket.on("close", (reason, description) => {
  closed = true;
  emit("close", { reason: describe(reason), description: describe(description) });
  // no exit here: a polling client still has to POST its close packet; Node exits by itself
  // once stdin has ended and nothing is pending
});

function run(command) {
  switch (command.cmd) {
    case "send":
      socket.send(String(command.data));
      break;
    case "send_binary":
      socket.send(Buffer.from(String(command.hex), "hex"));
      break;
    case "send_big":
      socket.send(bigString(Number(command.size)));
      break;
    case "report_after": {
      const ms = Number(command.ms);
      const since = Date.now();
      setTimeout(() => emit("alive", { elapsed_ms: Date.now() - since, closed, pings }), ms);
      break;
    }
    case "close":
      socket.close();
      break;
    default:
      emit("command_error", { message: `unknown command ${JSON.stringify(command.cmd)}` });
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    emit("command_error", { message: `not JSON: ${line.slice(0, 200)}` });
    return;
  }
  try {
    run(command);
  } catch (err) {
    emit("command_error", { message: describe(err) });
  }
});
lines.on("close", () => {
  // stdin ended: the test side is done (or gone). Close the socket; Node exits by itself once
  // nothing is pending (the test side kills the process if that takes too long).
  if (!closed) socket.close();
});
process.stdout.on("error", () => process.exit(0)); // EPIPE: nobody is listening any more
