// A tiny script to test the harness itself (tests/interop/test_harness.py).
//
// Commands (JSON lines on stdin):
//   {"cmd":"echo", ...}                 prints {"event":"echo", ...the command}
//   {"cmd":"fetch","url":"..."}         HTTP GET; prints {"event":"response","status","body"}
//   {"cmd":"ws_echo","url":"...","data":"..."}
//        opens a WebSocket (the `ws` package), sends `data`, prints the first message as
//        {"event":"ws_message","data"} and closes: {"event":"ws_close","code"}
//   {"cmd":"stderr","text":"..."}       writes text to stderr
//   {"cmd":"print_raw","text":"..."}    writes a line that is not JSON
//   {"cmd":"exit","code":3}             exits at once
// Prints {"event":"ready"} first; exits by itself when stdin ends.

import { createInterface } from "node:readline";
import WebSocket from "ws";

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

async function run(command) {
  switch (command.cmd) {
    case "echo":
      emit("echo", command);
      break;
    case "fetch": {
      const response = await fetch(command.url);
      emit("response", { status: response.status, body: await response.text() });
      break;
    }
    case "ws_echo": {
      const ws = new WebSocket(command.url);
      ws.on("open", () => ws.send(command.data));
      ws.on("message", (data, isBinary) => {
        emit("ws_message", { data: isBinary ? data.toString("hex") : data.toString() });
        ws.close(1000);
      });
      ws.on("close", (code) => emit("ws_close", { code }));
      ws.on("error", (err) => emit("error", { message: err.message }));
      break;
    }
    case "stderr":
      process.stderr.write(String(command.text) + "\n");
      break;
    case "print_raw":
      process.stdout.write(String(command.text) + "\n");
      break;
    case "exit":
      process.stdout.write("", () => process.exit(Number(command.code)));
      break;
    default:
      emit("command_error", { message: `unknown command ${JSON.stringify(command.cmd)}` });
  }
}

emit("ready", { args: process.argv.slice(2) });
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  run(JSON.parse(line)).catch((err) => emit("error", { message: String(err) }));
});
