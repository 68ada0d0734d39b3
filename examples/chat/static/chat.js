// The socketeer chat page: plain JavaScript on the official socket.io-client (the global
// `io`, from /socket.io/socket.io.min.js, which socketeer serves from the npm package).
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const TYPING_IDLE_MS = 2500; // stop "typing" after this long without a keystroke
  const TYPING_SHOWN_MS = 5000; // forget someone's "typing" after this long (volatile!)
  const ACK_TIMEOUT_MS = 8000;
  const MAX_IMAGE = 900_000; // the server's limit
  const DROP_MS = 2000; // "Drop connection" keeps the page offline this long

  const state = {
    nick: null,
    current: "general",
    rooms: new Map(), // name -> {name, joined, online, members, items, unread, typing}
    everConnected: false,
    reconnecting: false,
    missed: 0,
    dropping: false,
  };

  const socket = io({ autoConnect: false }); // same origin, path /socket.io/
  window.chat = { socket, state }; // for the devtools console (and the browser tests)

  // ---- rooms ----------------------------------------------------------------------------

  function room(name) {
    let found = state.rooms.get(name);
    if (!found) {
      found = { name, joined: false, online: 0, members: [], items: [], unread: 0, typing: new Map() };
      state.rooms.set(name, found);
    }
    return found;
  }

  function joinedRooms() {
    return [...state.rooms.values()].filter((r) => r.joined).map((r) => r.name);
  }

  function renderRooms() {
    const list = $("#rooms");
    list.replaceChildren();
    const rooms = [...state.rooms.values()].sort(
      (a, b) => Number(b.joined) - Number(a.joined) || a.name.localeCompare(b.name),
    );
    for (const r of rooms) {
      const li = el("li", r.joined ? "joined" : "");
      if (r.name === state.current) li.classList.add("current");
      li.dataset.room = r.name;
      li.append(el("span", "name", r.name));
      if (r.unread) li.append(el("span", "unread", String(r.unread)));
      li.append(el("span", "online", String(r.online)));
      if (!r.joined) li.append(el("span", "join-hint", "join"));
      li.title = r.members.length ? `online: ${r.members.join(", ")}` : "nobody here yet";
      li.addEventListener("click", () => (r.joined ? switchTo(r.name) : join(r.name)));
      list.append(li);
    }
    renderHeader();
  }

  function renderHeader() {
    const r = room(state.current);
    $("#room-title").textContent = `# ${r.name}`;
    $("#text").placeholder = `Message #${r.name}`;
    const members = $("#room-members");
    members.replaceChildren(el("span", "count", `${r.online} online`));
    if (r.members.length) members.append(` · ${r.members.join(", ")}`);
    $("#leave").disabled = joinedRooms().length <= 1;
  }

  function switchTo(name) {
    state.current = name;
    room(name).unread = 0;
    renderRooms();
    renderMessages();
    renderTyping();
    $("#text").focus();
  }

  function join(name) {
    socket.timeout(ACK_TIMEOUT_MS).emit("join", name, (err, answer) => {
      const error = err ? "the server did not answer" : answer.error;
      $("#join-error").hidden = !error;
      $("#join-error").textContent = error || "";
      if (error) return;
      const r = room(answer.room);
      r.joined = true;
      if (!r.items.some((item) => item.kind !== "notice")) {
        for (const message of answer.history) addMessage(message, { history: true, render: false });
      }
      switchTo(answer.room);
    });
  }

  function leave(name) {
    socket.timeout(ACK_TIMEOUT_MS).emit("leave", name, (err, answer) => {
      if (err || answer.error) return;
      const r = room(name);
      r.joined = false;
      r.unread = 0;
      const next = joinedRooms()[0] || "general";
      switchTo(next);
    });
  }

  // ---- messages -------------------------------------------------------------------------

  const timeOf = (ts) => new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const newId = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const TICKS = { pending: "\u22ef", sent: "\u2713", delivered: "\u2713\u2713", failed: "\u2717 not sent" };
  const TICK_TITLES = {
    pending: "sending",
    sent: "the server has it (acknowledged)",
    delivered: "delivered",
    failed: "the server did not acknowledge it",
  };

  function renderItem(item) {
    if (item.kind === "notice") {
      const li = el("li", `notice${item.conn ? ` conn ${item.conn}` : ""}`, item.text);
      return li;
    }
    const li = el("li", `msg ${item.mine ? "mine" : "theirs"}`);
    li.dataset.id = item.id;
    if (!item.mine) {
      const meta = el("div", "meta");
      meta.append(el("span", "nick", item.nick), timeOf(item.ts));
      li.append(meta);
    }
    const bubble = el("div", "bubble");
    if (item.kind === "image") {
      const img = el("img");
      img.src = item.url;
      img.alt = item.name || "image";
      bubble.append(img);
    } else {
      bubble.textContent = item.text;
    }
    li.append(bubble);
    const foot = el("div", "foot");
    if (item.recovered) foot.append(el("span", "recovered-badge", "recovered"));
    if (item.mine) {
      foot.append(timeOf(item.ts));
      const ticks = el("span", "ticks");
      foot.append(ticks);
      item.ticksEl = ticks;
      updateTicks(item);
    }
    if (foot.childNodes.length) li.append(foot);
    return li;
  }

  function updateTicks(item) {
    if (!item.ticksEl) return;
    item.ticksEl.dataset.state = item.state;
    item.ticksEl.textContent = TICKS[item.state];
    item.ticksEl.title =
      item.state === "delivered" ? `delivered to ${[...item.deliveredTo].join(", ")}` : TICK_TITLES[item.state];
  }

  function renderMessages() {
    const list = $("#messages");
    const items = room(state.current).items;
    list.replaceChildren(...items.map(renderItem));
    if (!items.length) list.append(el("li", "day-empty", "No messages yet. Say hello!"));
    list.scrollTop = list.scrollHeight;
  }

  function push(roomName, item, render = true) {
    const r = room(roomName);
    r.items.push(item);
    if (r.items.length > 500) r.items.splice(0, r.items.length - 500);
    if (!render) return;
    if (roomName === state.current) {
      const list = $("#messages");
      list.querySelector(".day-empty")?.remove();
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      list.append(renderItem(item));
      if (atBottom || item.mine) list.scrollTop = list.scrollHeight;
    } else if (item.kind !== "notice") {
      r.unread += 1;
      renderRooms();
    }
  }

  function notice(text, conn) {
    push(state.current, { kind: "notice", text, conn });
  }

  function addMessage(message, { history = false, render = true } = {}) {
    const mine = message.from === socket.id && !history;
    const item = { kind: "msg", ...message, mine, history, recovered: state.reconnecting };
    if (state.reconnecting) state.missed += 1;
    push(message.room, item, render);
  }

  const pending = new Map(); // id -> own item waiting for its ticks

  function acknowledge(item) {
    return (err, answer) => {
      item.state = err || answer.error ? "failed" : item.state === "delivered" ? "delivered" : "sent";
      if (answer && answer.ts) item.ts = answer.ts;
      updateTicks(item);
    };
  }

  function sendText(text) {
    const item = {
      kind: "msg", id: newId(), room: state.current, text, mine: true,
      ts: Date.now(), state: "pending", deliveredTo: new Set(),
    };
    pending.set(item.id, item);
    push(item.room, item);
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emit("message", { room: item.room, id: item.id, text }, acknowledge(item));
  }

  async function sendImage(file) {
    let blob = file;
    if (blob.size > MAX_IMAGE) blob = await shrink(file);
    if (blob.size > MAX_IMAGE) {
      notice(`${file.name} is too large to share (${Math.round(blob.size / 1000)} kB)`);
      return;
    }
    const item = {
      kind: "image", id: newId(), room: state.current, mine: true, name: file.name,
      url: URL.createObjectURL(blob), ts: Date.now(), state: "pending", deliveredTo: new Set(),
    };
    pending.set(item.id, item);
    push(item.room, item);
    const data = await blob.arrayBuffer(); // an ArrayBuffer: sent as a binary attachment
    socket
      .timeout(ACK_TIMEOUT_MS * 2)
      .emit("image", { room: item.room, id: item.id, name: file.name, type: blob.type, data }, acknowledge(item));
  }

  async function shrink(file) {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  }

  // ---- typing (volatile: dropped rather than queued when the connection is busy) ----------

  let typingRoom = null;
  let typingTimer = null;

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingRoom) socket.volatile.emit("typing", { room: typingRoom, typing: false });
    typingRoom = null;
  }

  function typed() {
    if (typingRoom !== state.current) {
      stopTyping();
      typingRoom = state.current;
      socket.volatile.emit("typing", { room: typingRoom, typing: true });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function renderTyping() {
    const names = [...room(state.current).typing.keys()];
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing\u2026`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing\u2026`;
    else if (names.length > 2) text = `${names.length} people are typing\u2026`;
    $("#typing").textContent = text;
  }

  // ---- connection -----------------------------------------------------------------------

  function setStatus(kind, text) {
    $("#status").dataset.state = kind;
    $("#status-text").textContent = text;
  }

  function setTransport(name) {
    $("#transport").textContent = name || "";
  }

  function hello() {
    const rooms = joinedRooms();
    const again = state.everConnected; // back after a server restart: no "joined" notices
    socket.timeout(ACK_TIMEOUT_MS).emit("hello", { nick: state.nick, rooms, again }, (err, answer) => {
      if (err || answer.error) {
        notice(`could not enter the chat: ${err ? "no answer" : answer.error}`, "bad");
        return;
      }
      state.nick = answer.nick;
      $("#me-nick").textContent = answer.nick;
      for (const r of state.rooms.values()) r.joined = false;
      for (const name of answer.rooms) {
        const r = room(name);
        r.joined = true;
        if (!r.items.some((item) => item.kind !== "notice")) {
          for (const message of answer.history[name] || []) addMessage(message, { history: true, render: false });
        }
      }
      if (!answer.rooms.includes(state.current)) state.current = answer.rooms[0];
      switchTo(state.current);
    });
  }

  socket.io.on("open", () => {
    // Watch this connection's transport: it starts with HTTP long-polling and upgrades.
    const engine = socket.io.engine;
    setTransport(engine.transport.name);
    engine.on("upgrade", (transport) => {
      setTransport(transport.name);
      notice(`transport upgraded: polling \u2192 ${transport.name}`, "good");
    });
  });

  socket.on("connect", () => {
    setStatus("online", "connected");
    setTransport(socket.io.engine.transport.name);
    if (state.dropping) {
      state.dropping = false;
      socket.io.reconnectionDelay(1000);
      socket.io.reconnectionDelayMax(5000);
      socket.io.randomizationFactor(0.5);
    }
    if (socket.recovered) {
      const missed = state.missed === 1 ? "1 missed message" : `${state.missed} missed messages`;
      notice(`reconnected: session recovered, ${missed} replayed`, "good");
      renderRooms();
    } else {
      if (state.everConnected) notice("reconnected with a new session: rejoining your rooms", "good");
      hello();
    }
    state.everConnected = true;
    state.reconnecting = false;
  });

  socket.on("disconnect", (reason) => {
    state.reconnecting = true;
    state.missed = 0;
    setStatus("reconnecting", `reconnecting\u2026 (${reason})`);
    setTransport("");
    notice(state.dropping ? `connection dropped for ${DROP_MS / 1000} s (simulated)` : `disconnected: ${reason}`, "bad");
    if (reason === "io server disconnect") socket.connect(); // the server kicked us: come back
  });

  socket.on("connect_error", (err) => {
    setStatus("reconnecting", `reconnecting\u2026 (${err.message})`);
  });

  socket.io.on("reconnect_attempt", (attempt) => {
    setStatus("reconnecting", `reconnecting\u2026 attempt ${attempt}`);
  });

  socket.on("rooms", (rooms) => {
    const seen = new Set();
    for (const summary of rooms) {
      const r = room(summary.name);
      r.online = summary.online;
      r.members = summary.members;
      seen.add(summary.name);
    }
    for (const r of state.rooms.values()) {
      if (!seen.has(r.name) && !r.joined) state.rooms.delete(r.name);
      else if (!seen.has(r.name)) Object.assign(r, { online: 0, members: [] });
    }
    renderRooms();
  });

  socket.on("message", (message) => {
    addMessage(message);
    socket.emit("receipt", message.id);
  });

  socket.on("image", (message) => {
    const url = URL.createObjectURL(new Blob([message.data], { type: message.type }));
    const item = { kind: "image", ...message, url, mine: false, recovered: state.reconnecting };
    delete item.data;
    if (state.reconnecting) state.missed += 1;
    push(message.room, item);
    socket.emit("receipt", message.id);
  });

  socket.on("delivered", ({ id, by }) => {
    const item = pending.get(id);
    if (!item) return;
    item.deliveredTo.add(by);
    item.state = "delivered";
    updateTicks(item);
  });

  socket.on("notice", ({ room: name, text }) => push(name, { kind: "notice", text }));

  socket.on("typing", ({ room: name, nick, typing }) => {
    const r = room(name);
    clearTimeout(r.typing.get(nick));
    if (typing) {
      r.typing.set(nick, setTimeout(() => {
        r.typing.delete(nick);
        if (name === state.current) renderTyping();
      }, TYPING_SHOWN_MS));
    } else {
      r.typing.delete(nick);
    }
    if (name === state.current) renderTyping();
  });

  // ---- the page ---------------------------------------------------------------------------

  // The bundle's ETag is its version (as the JS server's serveClient sends it).
  fetch("/socket.io/socket.io.min.js", { method: "HEAD" })
    .then((response) => {
      const version = (response.headers.get("etag") || "").replaceAll('"', "");
      if (version) $("#client-version").textContent = `v${version}`;
    })
    .catch(() => {});

  $("#login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = $("#nick").value.trim();
    if (!nick) return;
    state.nick = nick;
    localStorage.setItem("socketeer-chat-nick", nick);
    $("#me-nick").textContent = nick;
    $("#login").hidden = true;
    room("general").joined = true;
    setStatus("reconnecting", "connecting\u2026");
    socket.connect();
    renderRooms();
    renderMessages();
    $("#text").focus();
  });

  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#text");
    const text = input.value.trim();
    if (!text) return;
    stopTyping();
    sendText(text);
    input.value = "";
  });

  $("#text").addEventListener("input", () => {
    if ($("#text").value) typed();
    else stopTyping();
  });

  $("#file").addEventListener("change", () => {
    const file = $("#file").files[0];
    $("#file").value = "";
    if (file) sendImage(file).catch((err) => notice(`could not share the image: ${err}`, "bad"));
  });

  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("#join-input").value.trim().toLowerCase().replace(/^#/, "");
    if (!name) return;
    $("#join-input").value = "";
    if (room(name).joined) switchTo(name);
    else join(name);
  });

  $("#leave").addEventListener("click", () => leave(state.current));

  $("#drop").addEventListener("click", () => {
    // Simulate a network outage: close the connection and come back after DROP_MS.
    if (!socket.connected) return;
    state.dropping = true;
    socket.io.reconnectionDelay(DROP_MS);
    socket.io.reconnectionDelayMax(DROP_MS);
    socket.io.randomizationFactor(0);
    socket.io.engine.close();
  });

  $("#nick").value = localStorage.getItem("socketeer-chat-nick") || `guest-${Math.floor(Math.random() * 900 + 100)}`;
  $("#nick").select();
})();
