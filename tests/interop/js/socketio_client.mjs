// A driveable socket.io-client, for socketeer's interop tests.
//
// Usage: node socketio_client.mjs <url> [<default Manager options as JSON>]
//   The script starts with no connection; "connect" commands create sockets. Each socket has a
//   label chosen by the test ("a", "b", ...). A socket runs on a Manager (one Engine.IO
//   connection): its own by default, or a shared one named by "manager" (several namespaces
//   multiplexed on one connection). Managers get {reconnection: false} unless told otherwise.
//
// Binary values travel as {"$bytes": "<hex>"} in both directions (commands and events), at
// any depth; a function (an ack callback) is printed as {"$function": true}.
//
// Commands: one JSON object per line on stdin ("socket" is a label, default "main")
//   {"cmd":"connect","socket":"a","nsp":"/chat","manager":"m","options":{...},"auth":{...}}
//        options: Manager options (transports, query, extraHeaders, ...), used when the
//        manager is created; auth: the CONNECT payload of this socket
//   {"cmd":"emit","socket":"a","event":"x","args":[...],"ack":"ref","with_ack":false,
//    "timeout":500,"volatile":false}
//        without "ack": a plain emit. With "ack": a callback (prints "ack"); with
//        "with_ack": true, emitWithAck (prints "ack" with value, or error). "timeout" (ms)
//        uses socket.timeout(ms), whose callback gets an error first.
//   {"cmd":"reply","socket":"a","event":"x","args":[...]}  answer acks of event x with args
//   {"cmd":"reply","socket":"a","event":"x","never":true}  never answer acks of event x
//        (the default answer echoes the event's arguments)
//   {"cmd":"listen","socket":"a","event":"x"}  also socket.on(x): prints "listener"
//   {"cmd":"raw","socket":"a","packet":{"type":2,"data":["connect"]}}
//        hand a packet to socket.packet() as-is (bypasses the client's reserved-name check)
//   {"cmd":"try_emit","socket":"a","event":"connect"}  prints "try_emit" {error or null}
//   {"cmd":"disconnect","socket":"a"}        socket.disconnect()
//   {"cmd":"reconnect","socket":"a"}         socket.connect() (join the namespace again)
//   {"cmd":"close_engine","socket":"a"}      close the Engine.IO connection under the socket
//   {"cmd":"state","socket":"a"}             prints "state" {connected, id, transport}
// End of stdin disconnects every socket and exits.
//
// Events: one JSON object per line on stdout, {"event": "<label>:<kind>", "socket": label, ...}
//   ready                          (no label) the script started
//   <s>:connect      id, engine_sid, transport, recovered
//   <s>:connect_error  message, data
//   <s>:disconnect   reason, description
//   <s>:event        name, args, ack (bool)       every incoming event (onAny)
//   <s>:outgoing     name, args                   every outgoing event (onAnyOutgoing)
//   <s>:listener     name, args                   a socket.on(x) listener ("listen")
//   <s>:ack          ref, args | value | error    the answer to an emit with "ack"
//   <s>:try_emit     name, error
//   <s>:state        connected, id, transport
//   <m>:upgrade      transport                    (manager label) the engine upgraded
//   <m>:ping                                      (manager label) a server ping arrived
//   <m>:manager_close  reason, description        (manager label) the Manager closed
//   command_error    message                      (no label) a bad command line

import { Manager } from "socket.io-client";
import { createInterface } from "node:readline";

function print(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function say(label, kind, fields = {}) {
  print(`${label}:${kind}`, { socket: label, ...fields });
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

/** Make a received value printable: binary -> {"$bytes": hex}, recursively. */
function toWire(value) {
  if (value === undefined) return null;
  if (typeof value === "function") return { $function: true };
  if (Buffer.isBuffer(value)) return { $bytes: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bytes: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) {
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = toWire(item);
    return out;
  }
  return value;
}

/** The inverse of toWire, for command arguments: {"$bytes": hex} -> Buffer. */
function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bytes") return Buffer.from(value.$bytes, "hex");
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = fromWire(item);
    return out;
  }
  return value;
}

const url = process.argv[2];
if (!url) {
  process.stderr.write("usage: node socketio_client.mjs <url> [<options JSON>]\n");
  process.exit(2);
}
const defaults = JSON.parse(process.argv[3] || "{}");

const managers = new Map(); // manager label -> Manager
const sockets = new Map(); // socket label -> { socket, manager, managerLabel }
const replies = new Map(); // `${label}\u0000${event}` -> {args} | {never: true}

function managerFor(label, options) {
  let manager = managers.get(label);
  if (manager) return manager;
  manager = new Manager(url, { reconnection: false, ...defaults, ...options });
  managers.set(label, manager);
  const engine = manager.engine;
  engine.on("upgrade", (transport) => say(label, "upgrade", { transport: transport.name }));
  manager.on("ping", () => say(label, "ping"));
  manager.on("close", (reason, description) =>
    say(label, "manager_close", { reason: describe(reason), description: describe(description) }),
  );
  return manager;
}

function entry(command) {
  const label = command.socket || "main";
  const found = sockets.get(label);
  if (!found) throw new Error(`no socket ${JSON.stringify(label)}`);
  return { label, ...found };
}

function connect(command) {
  const label = command.socket || "main";
  if (sockets.has(label)) throw new Error(`socket ${JSON.stringify(label)} exists`);
  const managerLabel = command.manager || label;
  const manager = managerFor(managerLabel, command.options || {});
  const socket = manager.socket(command.nsp || "/", command.auth ? { auth: command.auth } : {});
  sockets.set(label, { socket, manager, managerLabel });

  socket.on("connect", () => {
    say(label, "connect", {
      id: socket.id,
      engine_sid: manager.engine.id,
      transport: manager.engine.transport.name,
      recovered: socket.recovered,
    });
  });
  socket.on("connect_error", (err) => {
    say(label, "connect_error", {
      message: err && err.message !== undefined ? err.message : describe(err),
      data: err && err.data !== undefined ? toWire(err.data) : null,
    });
  });
  socket.on("disconnect", (reason, description) => {
    say(label, "disconnect", { reason: describe(reason), description: describe(description) });
  });
  socket.onAny((name, ...args) => {
    const last = args.length ? args[args.length - 1] : undefined;
    const ack = typeof last === "function" ? args.pop() : null;
    say(label, "event", { name, args: toWire(args), ack: ack !== null });
    if (ack) {
      const spec = replies.get(`${label}\u0000${name}`);
      if (!spec) ack(...args);
      else if (!spec.never) ack(...fromWire(spec.args || []));
    }
  });
  socket.onAnyOutgoing((name, ...args) => {
    say(label, "outgoing", { name, args: toWire(args) });
  });
}

function emitCommand(command) {
  const { label, socket } = entry(command);
  const args = fromWire(command.args || []);
  const ref = command.ack;
  let target = socket;
  if (command.volatile) target = target.volatile;
  if (command.timeout !== undefined && command.timeout !== null) {
    target = target.timeout(Number(command.timeout));
  }
  if (ref === undefined || ref === null) {
    target.emit(command.event, ...args);
  } else if (command.with_ack) {
    target.emitWithAck(command.event, ...args).then(
      (value) => say(label, "ack", { ref, value: toWire(value) }),
      (err) => say(label, "ack", { ref, error: describe(err) }),
    );
  } else if (command.timeout !== undefined && command.timeout !== null) {
    target.emit(command.event, ...args, (err, ...answer) => {
      if (err) say(label, "ack", { ref, error: describe(err) });
      else say(label, "ack", { ref, args: toWire(answer) });
    });
  } else {
    target.emit(command.event, ...args, (...answer) => {
      say(label, "ack", { ref, args: toWire(answer) });
    });
  }
}

function run(command) {
  switch (command.cmd) {
    case "connect":
      connect(command);
      break;
    case "emit":
      emitCommand(command);
      break;
    case "reply": {
      const label = command.socket || "main";
      replies.set(
        `${label}\u0000${command.event}`,
        command.never ? { never: true } : { args: command.args || [] },
      );
      say(label, "replying", { name: command.event }); // the Python side waits for this
      break;
    }
    case "listen": {
      const { label, socket } = entry(command);
      socket.on(command.event, (...args) => {
        const last = args.length ? args[args.length - 1] : undefined;
        if (typeof last === "function") args.pop();
        say(label, "listener", { name: command.event, args: toWire(args) });
      });
      break;
    }
    case "raw": {
      const { socket } = entry(command);
      socket.packet(fromWire(command.packet));
      break;
    }
    case "try_emit": {
      const { label, socket } = entry(command);
      let error = null;
      try {
        socket.emit(command.event);
      } catch (err) {
        error = describe(err);
      }
      say(label, "try_emit", { name: command.event, error });
      break;
    }
    case "disconnect":
      entry(command).socket.disconnect();
      break;
    case "reconnect":
      entry(command).socket.connect();
      break;
    case "close_engine":
      entry(command).manager.engine.close();
      break;
    case "state": {
      const { label, socket, manager } = entry(command);
      say(label, "state", {
        connected: socket.connected,
        id: socket.id === undefined ? null : socket.id,
        transport: manager.engine && manager.engine.transport ? manager.engine.transport.name : null,
      });
      break;
    }
    default:
      print("command_error", { message: `unknown command ${JSON.stringify(command.cmd)}` });
  }
}

print("ready", { url, defaults });

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
  try {
    run(command);
  } catch (err) {
    print("command_error", { message: describe(err) });
  }
});
lines.on("close", () => {
  // stdin ended: disconnect everything; Node exits once nothing is pending (a polling client
  // still POSTs its DISCONNECT). The unref'd timer only fires if something hangs.
  for (const { socket } of sockets.values()) socket.disconnect();
  for (const manager of managers.values()) manager.disconnect();
  setTimeout(() => process.exit(0), 2000).unref();
});
process.stdout.on("error", () => process.exit(0)); // EPIPE: nobody is listening any more
