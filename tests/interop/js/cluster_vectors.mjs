// Golden wire vectors of the JS cluster adapters and emitter, made by the packages
// themselves (socket.io-adapter's ClusterAdapter through @socket.io/redis-adapter's sharded
// adapter, the classic @socket.io/redis-adapter, @socket.io/redis-emitter) with fake Redis
// clients that record what would be published.
//
// Usage: node cluster_vectors.mjs > ../../vectors/cluster_wire.json
//   Random ids are made deterministic by replacing crypto.randomBytes with a counter.
//
// Output: {"sharded": [...], "classic": [...], "emitter": [...]}, each item
//   {"name", "command", "channel", "text" | "hex"}: what was published (payload as text when
//   it is a string, as hex when it is a Buffer).

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const crypto = require("crypto");
let counter = 0;
crypto.randomBytes = (size) => {
  counter += 1;
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (counter * 7 + i * 3) & 0xff;
  return bytes;
};

const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { createAdapter: createStreamsAdapter } = require("@socket.io/redis-streams-adapter");

function payloadOf(payload) {
  return Buffer.isBuffer(payload) ? { hex: payload.toString("hex") } : { text: payload };
}

function fakeRedis(record) {
  return {
    // node-redis v4 shape (the adapters test for sSubscribe / pSubscribe)
    sSubscribe() {},
    sUnsubscribe() {},
    pSubscribe() {},
    pUnsubscribe() {},
    subscribe() {},
    unsubscribe() {},
    on() {},
    off() {},
    sPublish(channel, payload) {
      record("SPUBLISH", channel, payload);
      return Promise.resolve(1);
    },
    publish(channel, payload) {
      record("PUBLISH", channel, payload);
      return Promise.resolve(1);
    },
    sendCommand() {
      return Promise.resolve(["x", 3]); // PUBSUB (SHARD)NUMSUB: 3 nodes
    },
  };
}

const handshake = {
  headers: { host: "localhost" },
  time: "Thu Nov 26 2026 19:00:00 GMT+0000 (Coordinated Universal Time)",
  address: "127.0.0.1",
  xdomain: false,
  secure: false,
  issued: 1795000000000,
  url: "/socket.io/?EIO=4&transport=websocket",
  query: { EIO: "4", transport: "websocket" },
  auth: { token: "t" },
};

function fakeNamespace(name) {
  const nsp = {
    name,
    sockets: new Map(),
    _ids: 0,
    server: { encoder: { encode: (packet) => [JSON.stringify(packet)] }, opts: {}, _opts: {} },
    _onServerSideEmit(args) {
      const last = args[args.length - 1];
      if (typeof last === "function") last({ answer: args[0] });
    },
  };
  return nsp;
}

function addSocket(nsp, adapter, id, rooms, data) {
  const socket = {
    id,
    handshake,
    data,
    get rooms() {
      return adapter.sids.get(id) || new Set();
    },
    acks: new Map(),
    client: { writeToEngine() {} },
    join(rooms) {
      adapter.addAll(id, new Set(Array.isArray(rooms) ? rooms : [rooms]));
    },
    leave(room) {
      adapter.del(id, room);
    },
    disconnect() {},
  };
  nsp.sockets.set(id, socket);
  adapter.addAll(id, new Set([id, ...rooms]));
  return socket;
}

const out = { sharded: [], classic: [], emitter: [], streams: [] };
let current = null;
let name = "";
const record = (command, channel, payload) =>
  out[current].push({ name, command, channel, ...payloadOf(payload) });
const tick = () => new Promise((resolve) => setImmediate(resolve));

const SOCKET_A = "AAAAAAAAAAAAAAAAAAAA";
const opts = (rooms = [], except = [], flags = {}) => ({
  rooms: new Set(rooms),
  except: new Set(except),
  flags,
});

// ---- sharded (ClusterAdapter message model) ------------------------------------------------
{
  current = "sharded";
  const redis = fakeRedis(record);
  const nsp = fakeNamespace("/");
  const adapter = createShardedAdapter(redis, redis, { channelPrefix: "sio" })(nsp);
  addSocket(nsp, adapter, SOCKET_A, ["room1"], { user: "a" });
  const cases = [
    ["broadcast", () => adapter.broadcast({ type: 2, data: ["ev", 1, "two", { x: null }] }, opts())],
    ["broadcast_room", () => adapter.broadcast({ type: 2, data: ["ev"] }, opts(["room1"]))],
    ["broadcast_rooms_except", () =>
      adapter.broadcast({ type: 2, data: ["ev", true] }, opts(["r1", "r2"], [SOCKET_A], { volatile: true }))],
    ["broadcast_socket_id", () => adapter.broadcast({ type: 2, data: ["ev"] }, opts([SOCKET_A]))],
    ["broadcast_binary", () =>
      adapter.broadcast({ type: 2, data: ["bin", Buffer.from([1, 2, 3]), { b: Buffer.alloc(0) }] }, opts())],
    ["broadcast_with_ack", () =>
      adapter.broadcastWithAck({ type: 2, data: ["q", 1] }, opts([], [], { timeout: 1500 }), () => {}, () => {})],
    ["sockets_join", () => adapter.addSockets(opts(["r1"], ["r2"]), ["r3", "r4"])],
    ["sockets_leave", () => adapter.delSockets(opts(), ["r3"])],
    ["disconnect_sockets", () => adapter.disconnectSockets(opts(["r1"]), true)],
    ["fetch_sockets", () => adapter.fetchSockets(opts(["room1"], [], { timeout: 10 })).catch(() => {})],
    ["server_side_emit", () => adapter.serverSideEmit(["hello", 1, "x"])],
    ["server_side_emit_with_ack", () => adapter.serverSideEmit(["ping", 2, () => {}])],
  ];
  for (const [caseName, run] of cases) {
    name = caseName;
    run();
    await tick();
  }
  // responses: feed requests as if another node had sent them
  const other = "ffffffffffffffff";
  const incoming = [
    ["fetch_sockets_response", { uid: other, nsp: "/", type: 7, data: { opts: { rooms: ["room1"], except: [] }, requestId: "r-fetch" } }],
    ["server_side_emit_response", { uid: other, nsp: "/", type: 9, data: { requestId: "r-sse", packet: ["ping", 3] } }],
    ["broadcast_client_count", { uid: other, nsp: "/", type: 3, data: { packet: { type: 2, data: ["q"] }, requestId: "r-ack", opts: { rooms: ["room1"], except: [], flags: {} } } }],
  ];
  for (const [caseName, message] of incoming) {
    name = caseName;
    adapter.onMessage(message);
    await tick();
  }
  name = "broadcast_ack";
  nsp.sockets.get(SOCKET_A).acks.get(nsp._ids - 1)("pong", "ignored");
  await tick();
  for (const item of out.sharded) item.uid = adapter.uid;
}

// ---- classic (@socket.io/redis-adapter createAdapter) -------------------------------------
{
  current = "classic";
  const redis = fakeRedis(record);
  const nsp = fakeNamespace("/chat");
  const adapter = createAdapter(redis, redis, { key: "sio" })(nsp);
  addSocket(nsp, adapter, SOCKET_A, ["room1"], { user: "a" });
  const cases = [
    ["broadcast", () => adapter.broadcast({ type: 2, data: ["ev", 1, "two", { x: null }] }, opts())],
    ["broadcast_room", () => adapter.broadcast({ type: 2, data: ["ev"] }, opts(["room1"], [SOCKET_A]))],
    ["broadcast_binary", () =>
      adapter.broadcast({ type: 2, data: ["bin", Buffer.from([1, 2, 3])] }, opts(["r1", "r2"], [], { volatile: true }))],
    ["broadcast_with_ack", () =>
      adapter.broadcastWithAck({ type: 2, data: ["q", 1] }, opts([], [], { timeout: 1500 }), () => {}, () => {})],
    ["sockets_join", () => adapter.addSockets(opts(["r1"], ["r2"]), ["r3", "r4"])],
    ["sockets_leave", () => adapter.delSockets(opts(), ["r3"])],
    ["disconnect_sockets", () => adapter.disconnectSockets(opts(["r1"]), true)],
    ["fetch_sockets", () => adapter.fetchSockets(opts(["room1"])).catch(() => {})],
    ["all_rooms", () => adapter.allRooms().catch(() => {})],
    ["server_side_emit", () => adapter.serverSideEmit(["hello", 1, "x"])],
    ["server_side_emit_with_ack", () => adapter.serverSideEmit(["ping", 2, () => {}])],
  ];
  for (const [caseName, run] of cases) {
    name = caseName;
    run();
    await tick();
  }
  const requestChannel = "sio-request#/chat#";
  const incoming = [
    ["fetch_sockets_response", JSON.stringify({ uid: "other1", requestId: "rqfetc", type: 5, opts: { rooms: ["room1"], except: [] } })],
    ["all_rooms_response", JSON.stringify({ uid: "other1", requestId: "rqroom", type: 1 })],
    ["server_side_emit_response", JSON.stringify({ uid: "other1", requestId: "rqssem", type: 6, data: ["ping", 3] })],
    ["broadcast_client_count", require("notepack.io").encode({ uid: "other1", requestId: "rqback", type: 7, packet: { type: 2, data: ["q"], nsp: "/chat" }, opts: { rooms: ["room1"], except: [], flags: {} } })],
  ];
  for (const [caseName, message] of incoming) {
    name = caseName;
    await adapter.onrequest(requestChannel, Buffer.from(message));
    await tick();
  }
  name = "broadcast_ack";
  nsp.sockets.get(SOCKET_A).acks.get(nsp._ids - 1)("pong", "ignored");
  await tick();
  for (const item of out.classic) item.uid = adapter.uid;
}

// ---- @socket.io/redis-emitter ---------------------------------------------------------------
{
  current = "emitter";
  const redis = fakeRedis(record);
  const emitter = new Emitter(redis, { key: "sio" });
  const cases = [
    ["emit", () => emitter.emit("news", 1, { a: [true, null] })],
    ["emit_room", () => emitter.to("room1").emit("news")],
    ["emit_rooms_except_volatile", () => emitter.to(["r1", "r2"]).except("r3").volatile.emit("news", "x")],
    ["emit_binary_compress", () => emitter.of("/admin").compress(false).emit("bin", Buffer.from([0, 255]))],
    ["sockets_join", () => emitter.in("r1").socketsJoin(["r2", "r3"])],
    ["sockets_leave", () => emitter.except("r1").socketsLeave("r2")],
    ["disconnect_sockets", () => emitter.in("r1").disconnectSockets(true)],
    ["server_side_emit", () => emitter.of("admin").serverSideEmit("reload", { x: 1 })],
  ];
  for (const [caseName, run] of cases) {
    name = caseName;
    run();
    await tick();
  }
}

// ---- @socket.io/redis-streams-adapter -------------------------------------------------------
{
  current = "streams";
  let entries = 0;
  const streamsRedis = {
    ...fakeRedis(record),
    duplicate() {
      return {
        ...streamsRedis,
        connect: () => Promise.resolve(),
        xRead: () => new Promise(() => {}), // the reader waits forever
      };
    },
    xAdd(stream, id, fields, options) {
      entries += 1;
      out.streams.push({ name, command: "XADD", stream, fields, trim: options.TRIM });
      return Promise.resolve(`1700000000000-${entries}`);
    },
    set(key, value, options) {
      out.streams.push({ name, command: "SET", key, value, px: options.PX });
      return Promise.resolve("OK");
    },
  };
  const nsp = fakeNamespace("/");
  nsp.server.opts = { connectionStateRecovery: { maxDisconnectionDuration: 120000 } };
  const adapter = createStreamsAdapter(streamsRedis, { streamName: "sio-stream", channelPrefix: "sio" })(nsp);
  addSocket(nsp, adapter, SOCKET_A, ["room1"], { user: "a" });
  await tick();
  const cases = [
    ["broadcast", () => adapter.broadcast({ type: 2, data: ["ev", 1, { x: null }] }, opts(["room1"]))],
    ["broadcast_binary", () =>
      adapter.broadcast({ type: 2, data: ["bin", Buffer.from([1, 2, 3])] }, opts([], [SOCKET_A], { volatile: true }))],
    ["sockets_join", () => adapter.addSockets(opts(["r1"], ["r2"]), ["r3"])],
    ["disconnect_sockets", () => adapter.disconnectSockets(opts(["r1"]), false)],
    ["broadcast_with_ack", () =>
      adapter.broadcastWithAck({ type: 2, data: ["q", Buffer.from([9])] }, opts([], [], { timeout: 1500 }), () => {}, () => {})],
    ["server_side_emit", () => adapter.serverSideEmit(["hello", 1])],
    ["persist_session", () =>
      adapter.persistSession({ sid: SOCKET_A, pid: "pid-1", rooms: [SOCKET_A, "room1"], data: { user: "a" } })],
  ];
  for (const [caseName, run] of cases) {
    name = caseName;
    run();
    await tick();
  }
  for (const item of out.streams) item.uid = adapter.uid;
}

process.stdout.write(JSON.stringify(out, null, 1) + "\n", () => process.exit(0)); // pending request timers
