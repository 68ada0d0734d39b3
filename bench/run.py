"""socketeer's benchmark driver: every server, every scenario, side by side.

Run it through ``scripts/bench`` (which sets up ``bench/.venv`` and ``bench/node``); see
``bench/README.md``. For each scenario and each run, the servers take turns (the order
rotates from run to run): the server gets a fresh process pinned to one core, the C load
generator (``bench/loadgen.c``, built here with ``cc -O2``) is pinned to the other, and
both are stopped by PID afterwards. Medians over the runs, as ratios to Node socket.io,
go to ``docs/benchmarks.md`` (a full run) with the machine and the command.

Only the standard library is used here, so the driver runs in any venv.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SERVERS_DIR = BENCH / "servers"
NODE_DIR = BENCH / "node"
DEFAULT_REPORT = ROOT / "docs" / "benchmarks.md"
HOST = "127.0.0.1"
READY_TIMEOUT = 20.0  # a server must accept TCP connections within this
STOP_GRACE = 3.0  # SIGTERM, then SIGKILL after this many seconds
UNAVAILABLE = 3  # exit status of bench/servers/socketeer_native.py without socketeer.native


# -- what is measured ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scale:
    """Sizes and times of one bench run; every loop of the load generator is bounded."""

    duration: float = 5.0  # measured seconds per scenario run
    warmup: float = 1.0
    echo_clients: int = 50
    echo_inflight: int = 10
    fanout_clients: int = 1000
    fanout_singles: int = 20
    fanout_window: int = 8
    idle_clients: int = 10_000
    idle_warm: int = 100
    idle_settle: float = 1.0
    connect_concurrency: int = 50
    polling_clients: int = 50
    polling_inflight: int = 10
    connect_timeout: float = 120.0
    payload: int = 32


FULL = Scale()
SMOKE = Scale(
    duration=0.5,
    warmup=0.2,
    echo_clients=5,
    echo_inflight=2,
    fanout_clients=20,
    fanout_singles=3,
    fanout_window=2,
    idle_clients=200,
    idle_warm=5,
    idle_settle=0.2,
    connect_concurrency=4,
    polling_clients=3,
    polling_inflight=2,
    connect_timeout=15.0,
)


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    scenario: str
    label: str
    unit: str
    higher_is_better: bool
    scale: float = 1.0  # displayed value = raw / scale


METRICS: tuple[Metric, ...] = (
    Metric("echo_rate", "echo", "echo, 50 clients x 10 in flight", "acked msgs/s", True),
    Metric("echo_p50", "echo", "echo latency p50 (under that load)", "ms", False, 1000.0),
    Metric("rt_p50", "latency", "round trip p50 (1 client, 1 in flight)", "us", False),
    Metric("rt_p99", "latency", "round trip p99", "us", False),
    Metric(
        "fanout_single",
        "fanout",
        "1 broadcast to 1,000 clients: time to reach all",
        "ms",
        False,
        1000.0,
    ),
    Metric("fanout_rate", "fanout", "sustained broadcasts to 1,000 clients", "deliveries/s", True),
    Metric("idle_kib", "idle", "idle memory per connection (10,000 connections)", "KiB", False),
    Metric("connect_rate", "connect", "connects (WS + Engine.IO + Socket.IO)", "conn/s", True),
    Metric(
        "polling_rate", "polling", "polling, 50 clients x 10 events per POST", "acked msgs/s", True
    ),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}

# The bar: (who, metric, against whom, target ratio, "ge" or "le").
BAR: tuple[tuple[str, str, str, float, str], ...] = (
    ("socketeer-native", "echo_rate", "node", 1.2, "ge"),
    ("socketeer-native", "fanout_rate", "node", 1.3, "ge"),
    ("socketeer-native", "connect_rate", "node", 1.5, "ge"),
    ("socketeer-native", "idle_kib", "node", 0.7, "le"),
    ("socketeer-native", "rt_p50", "node", 1.0, "le"),
    ("socketeer-asgi", "echo_rate", "psio-uvicorn", 3.0, "ge"),
    ("socketeer-asgi", "fanout_rate", "psio-uvicorn", 3.0, "ge"),
)


@dataclasses.dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    mode: str  # the load generator's mode
    args: Callable[[Scale], list[str]]
    metrics: Callable[[dict[str, Any], Scale], dict[str, float]]


def _echo_metrics(result: dict[str, Any], scale: Scale) -> dict[str, float]:
    return {"echo_rate": result["rate"], "echo_p50": result["p50_us"]}


def _latency_metrics(result: dict[str, Any], scale: Scale) -> dict[str, float]:
    return {"rt_p50": result["p50_us"], "rt_p99": result["p99_us"]}


def _fanout_metrics(result: dict[str, Any], scale: Scale) -> dict[str, float]:
    singles = result.get("singles_us") or [0]
    return {"fanout_single": float(statistics.median(singles)), "fanout_rate": result["rate"]}


def _idle_metrics(result: dict[str, Any], scale: Scale) -> dict[str, float]:
    return {"idle_kib": result["idle_kib"]}


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "echo",
        "echo with acks",
        "echo",
        lambda s: ["--clients", str(s.echo_clients), "--inflight", str(s.echo_inflight)],
        _echo_metrics,
    ),
    Scenario(
        "latency",
        "round-trip latency",
        "echo",
        lambda s: ["--clients", "1", "--inflight", "1"],
        _latency_metrics,
    ),
    Scenario(
        "fanout",
        "fan-out",
        "fanout",
        lambda s: [
            "--clients",
            str(s.fanout_clients),
            "--singles",
            str(s.fanout_singles),
            "--window",
            str(s.fanout_window),
        ],
        _fanout_metrics,
    ),
    Scenario(
        "idle",
        "idle memory",
        "idle",
        lambda s: ["--clients", str(s.idle_clients), "--warm", str(s.idle_warm)],
        _idle_metrics,
    ),
    Scenario(
        "connect",
        "connects per second",
        "connect",
        lambda s: ["--concurrency", str(s.connect_concurrency)],
        lambda r, s: {"connect_rate": r["rate"]},
    ),
    Scenario(
        "polling",
        "polling throughput",
        "polling",
        lambda s: [
            "--clients",
            str(s.polling_clients),
            "--inflight",
            str(s.polling_inflight),
        ],
        lambda r, s: {"polling_rate": r["rate"]},
    ),
)
SCENARIO_BY_KEY = {s.key: s for s in SCENARIOS}


# -- the servers under test -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    key: str
    label: str
    script: str  # under bench/servers/, or "node"

    def argv(self, port: int, strict: bool) -> list[str]:
        if self.script == "node":
            return ["node", str(NODE_DIR / "server.mjs"), "--host", HOST, "--port", str(port)]
        argv = [sys.executable, str(SERVERS_DIR / self.script), "--host", HOST]
        argv += ["--port", str(port)]
        return argv + (["--strict"] if strict else [])

    @property
    def is_python(self) -> bool:
        return self.script != "node"


SERVERS: tuple[ServerSpec, ...] = (
    ServerSpec("node", "Node socket.io 4.8", "node"),
    ServerSpec("socketeer-native", "socketeer native", "socketeer_native.py"),
    ServerSpec("socketeer-asgi", "socketeer ASGI (uvicorn)", "socketeer_asgi.py"),
    ServerSpec("psio-uvicorn", "python-socketio (uvicorn)", "psio_uvicorn.py"),
    ServerSpec("psio-aiohttp", "python-socketio (aiohttp)", "psio_aiohttp.py"),
)
SERVER_BY_KEY = {s.key: s for s in SERVERS}
REFERENCE = "node"


class BenchError(Exception):
    """A run that could not be measured (the message says why)."""


class ServerUnavailable(BenchError):
    """The server cannot run here (socketeer.native missing)."""


# -- processes ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pick_cpus(smoke: bool) -> tuple[int, int]:
    """(load generator core, server core): the first two cores this process may use."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        return cpus[0], cpus[1]
    if smoke:
        return cpus[0], cpus[0]
    raise BenchError(f"the bench needs two cores (one per side); this process may use {cpus}")


def pinned(cpu: int, nice: int) -> list[str]:
    """The command prefix that pins a process to ``cpu`` (and renices it, when asked)."""
    return ["taskset", "-c", str(cpu), *(["nice", "-n", str(nice)] if nice else [])]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def build_loadgen(build_dir: Path) -> Path:
    """Compile bench/loadgen.c with ``cc -O2`` when the binary is missing or stale."""
    source = BENCH / "loadgen.c"
    binary = build_dir / "loadgen"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BenchError("no C compiler: install gcc (cc) to build bench/loadgen.c")
    build_dir.mkdir(parents=True, exist_ok=True)
    argv = [compiler, "-O2", "-Wall", "-Wextra", "-o", str(binary), str(source)]
    log(f"building the load generator: {shlex.join(argv)}")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise BenchError(f"building bench/loadgen.c failed:\n{proc.stderr}")
    return binary


def stop_process(proc: subprocess.Popen[Any], grace: float = STOP_GRACE) -> None:
    """SIGTERM, then SIGKILL; by PID only."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cores_busy(cpus: Sequence[int]) -> float:
    """Busy seconds (user, nice, system, steal) of these cores, from /proc/stat.

    irq and softirq are left out: on loopback they are mostly our own TCP traffic, which the
    kernel does not charge to the sending process."""
    wanted = {f"cpu{c}" for c in cpus}
    busy = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name in wanted:
                v = [int(x) for x in fields]
                busy += v[0] + v[1] + v[2] + v[7]
    return busy / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


@contextlib.contextmanager
def running_server(
    spec: ServerSpec, port: int, cpu: int, strict: bool, log_path: Path, nice: int = 0
) -> Iterator[subprocess.Popen[bytes]]:
    """A server pinned to ``cpu``, accepting connections on ``port``; stopped on exit."""
    argv = [*pinned(cpu, nice), *spec.argv(port, strict)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NODE_ENV": "production"}
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                text = log_path.read_text(errors="replace").strip()
                if proc.returncode == UNAVAILABLE:
                    raise ServerUnavailable(text.splitlines()[-1] if text else "unavailable")
                raise BenchError(f"{spec.key} exited with status {proc.returncode}:\n{text}")
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{spec.key} did not listen within {READY_TIMEOUT} s"
                    ) from None
                time.sleep(0.05)  # nothing to wait on but the port itself
        yield proc
    finally:
        stop_process(proc)


class LoadgenLines:
    """Reads the load generator's JSON lines with a deadline."""

    def __init__(self, proc: subprocess.Popen[str], deadline: float) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.stdout: IO[str] = proc.stdout
        self.deadline = deadline

    def next(self) -> dict[str, Any] | None:
        """The next event, or None once the generator exited."""
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError("the load generator overran its deadline")
            ready, _, _ = select.select([self.stdout], [], [], remaining)
            if not ready:
                continue
            line = self.stdout.readline()
            if not line:
                return None
            line = line.strip()
            if line.startswith("{"):
                event: dict[str, Any] = json.loads(line)
                return event


@dataclasses.dataclass
class RunResult:
    server: str
    scenario: str
    run: int
    metrics: dict[str, float]
    loadgen_cpu: float
    server_cpu: float | None
    foreign_cpu: float | None  # CPU used on both cores by other processes (1.0 = one core)
    errors: int
    last_error: str
    raw: dict[str, Any]


def server_log_tail(path: Path, lines: int = 6) -> str:
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    if not text:
        return ""
    tail = "\n    ".join(text.splitlines()[-lines:])
    return f"\n  server log ({path}):\n    {tail}"


def run_scenario(
    scenario: Scenario,
    spec: ServerSpec,
    run: int,
    scale: Scale,
    loadgen: Path,
    cpus: tuple[int, int],
    strict: bool,
    build_dir: Path,
    nice: int = 0,
) -> RunResult:
    port = free_port()
    log_path = build_dir / "logs" / f"{spec.key}-{scenario.key}-{run}.log"
    with running_server(spec, port, cpus[1], strict, log_path, nice) as server:
        argv = [
            *pinned(cpus[0], nice),
            str(loadgen),
            scenario.mode,
            "--host",
            HOST,
            "--port",
            str(port),
            "--duration",
            str(scale.duration),
            "--warmup",
            str(scale.warmup),
            "--connect-timeout",
            str(scale.connect_timeout),
            "--payload",
            str(scale.payload),
            "--hold",
            str(scale.idle_settle + 30),
            *scenario.args(scale),
        ]
        budget = (
            scale.connect_timeout
            + scale.warmup
            + scale.duration
            + 30
            + 2 * (scale.idle_settle + 30)
        )
        gen = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            lines = LoadgenLines(gen, time.monotonic() + budget)
            result: dict[str, Any] | None = None
            cpu_start: tuple[float, float, float] | None = None
            cpu_end: tuple[float, float, float] | None = None
            rss: dict[str, int] = {}
            while (event := lines.next()) is not None:
                kind = event.get("event")
                if kind == "measure_start":
                    cpu_start = (time.monotonic(), cpu_seconds(server.pid), cores_busy(cpus))
                elif kind in ("warm", "ready"):
                    time.sleep(scale.idle_settle)  # let the server finish its bookkeeping
                    rss[kind] = rss_kib(server.pid)
                    assert gen.stdin is not None
                    gen.stdin.write("\n")
                    gen.stdin.flush()
                elif kind == "result":
                    with contextlib.suppress(OSError):
                        cpu_end = (time.monotonic(), cpu_seconds(server.pid), cores_busy(cpus))
                    result = event
            gen.wait(timeout=10)
        finally:
            stop_process(gen, grace=1.0)
            stderr = gen.stderr.read() if gen.stderr else ""
    if result is None:
        raise BenchError(f"no result from the load generator (exit {gen.returncode}): {stderr}")
    if gen.returncode == 3:  # a phase timed out: nothing was measured
        raise BenchError(f"{result['last_error']}{server_log_tail(log_path)}")
    if scenario.key == "idle":
        if "warm" not in rss or "ready" not in rss:
            raise BenchError(f"idle: the connections did not all open: {result['last_error']}")
        result["rss_warm_kib"] = rss["warm"]
        result["rss_ready_kib"] = rss["ready"]
        result["idle_kib"] = (rss["ready"] - rss["warm"]) / scale.idle_clients
    server_cpu = foreign_cpu = None
    if cpu_start and cpu_end and cpu_end[0] > cpu_start[0]:
        wall = cpu_end[0] - cpu_start[0]
        server_cpu = (cpu_end[1] - cpu_start[1]) / wall
        busy = (cpu_end[2] - cpu_start[2]) / wall
        foreign_cpu = max(0.0, busy - server_cpu - float(result["cpu_share"]))
    return RunResult(
        server=spec.key,
        scenario=scenario.key,
        run=run,
        metrics=scenario.metrics(result, scale),
        loadgen_cpu=float(result["cpu_share"]),
        server_cpu=server_cpu,
        foreign_cpu=foreign_cpu,
        errors=int(result["errors"]),
        last_error=str(result.get("last_error", "")),
        raw=result,
    )


# -- environment -------------------------------------------------------------------------


def native_available() -> str | None:
    """None when socketeer.native imports in this interpreter; the reason otherwise."""
    proc = subprocess.run(
        [sys.executable, "-c", "import socketeer.native"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def check_tools(servers: Sequence[ServerSpec]) -> None:
    if shutil.which("taskset") is None:
        raise BenchError("taskset (util-linux) is needed to pin the server and the load generator")
    if any(not s.is_python for s in servers):
        if shutil.which("node") is None:
            raise BenchError("node is needed for the Node socket.io server")
        if not (NODE_DIR / "node_modules" / "socket.io").is_dir():
            raise BenchError("bench/node/node_modules is missing: run scripts/bench (npm ci)")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _run_text(argv: Sequence[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "unavailable"
    return proc.stdout.strip() or proc.stderr.strip()


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    socketio_pkg = NODE_DIR / "node_modules" / "socket.io" / "package.json"
    node_socketio = "not installed"
    if socketio_pkg.exists():
        node_socketio = json.loads(socketio_pkg.read_text())["version"]
    rev = _run_text(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _run_text(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": _run_text(["node", "--version"]),
        "cc": _run_text(["cc", "--version"]).splitlines()[0] if shutil.which("cc") else "none",
        "socketeer": f"{_version('socketeer')} (git {rev}{', modified' if dirty else ''})",
        "socket.io (npm)": node_socketio,
        "python-socketio": _version("python-socketio"),
        "python-engineio": _version("python-engineio"),
        "uvicorn": _version("uvicorn"),
        "aiohttp": _version("aiohttp"),
        "uvloop": _version("uvloop"),
        "httptools": _version("httptools"),
        "websockets": _version("websockets"),
    }


# -- the report --------------------------------------------------------------------------


def medians(results: Sequence[RunResult]) -> dict[str, dict[str, float]]:
    """server -> metric -> median over runs."""
    values: dict[str, dict[str, list[float]]] = {}
    for r in results:
        for key, value in r.metrics.items():
            values.setdefault(r.server, {}).setdefault(key, []).append(value)
    return {
        server: {key: float(statistics.median(v)) for key, v in metrics.items()}
        for server, metrics in values.items()
    }


def fmt_value(metric: Metric, value: float) -> str:
    v = value / metric.scale
    if metric.unit in ("acked msgs/s", "deliveries/s", "conn/s") and v >= 10_000:
        return f"{v / 1000:.1f}k"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(table: dict[str, dict[str, float]], server: str, metric: str, base: str) -> float | None:
    a = table.get(server, {}).get(metric)
    b = table.get(base, {}).get(metric)
    if a is None or b is None or b == 0:
        return None
    return a / b


RATE_METRICS = ("echo_rate", "fanout_rate", "connect_rate", "polling_rate")
MIN_SERVER_CPU = 0.05  # below this, a run says nothing about CPU cost


def per_cpu_medians(results: Sequence[RunResult]) -> dict[str, dict[str, float]]:
    """server -> rate metric -> median over runs of (rate / server CPU share)."""
    values: dict[str, dict[str, list[float]]] = {}
    for r in results:
        if r.server_cpu is None or r.server_cpu < MIN_SERVER_CPU:
            continue
        for key in RATE_METRICS:
            if key in r.metrics:
                per_cpu = r.metrics[key] / r.server_cpu
                values.setdefault(r.server, {}).setdefault(key, []).append(per_cpu)
    return {
        server: {key: float(statistics.median(v)) for key, v in metrics.items()}
        for server, metrics in values.items()
    }


def render_per_cpu(
    w: Callable[[str], None],
    results: Sequence[RunResult],
    shown: Sequence[ServerSpec],
    skipped: dict[str, str],
) -> None:
    table = per_cpu_medians(results)
    rows = [m for m in METRICS if m.key in RATE_METRICS and any(m.key in t for t in table.values())]
    if not rows:
        return
    w("## Throughput per server CPU-second")
    w("")
    w(
        "Each run's rate divided by the CPU share the server got during it (median over "
        "runs). When a server is CPU-bound, this is what it does with one whole core, so it "
        "holds up better than the table above when other work on the machine took CPU away "
        "from the server (see *other* below). It says nothing about latency."
    )
    w("")
    w("| metric | unit | " + " | ".join(s.label for s in shown) + " |")
    w("|---|---|" + "---|" * len(shown))
    for metric in rows:
        cells = []
        for s in shown:
            value = table.get(s.key, {}).get(metric.key)
            if s.key in skipped or value is None:
                cells.append("—")
                continue
            cell = fmt_value(metric, value)
            r = ratio(table, s.key, metric.key, REFERENCE)
            if r is not None and s.key != REFERENCE:
                cell += f" ({r:.2f}x)"
            cells.append(cell)
        w(f"| {metric.label} | {metric.unit} per CPU-s | " + " | ".join(cells) + " |")
    w("")


def cpu_text(r: RunResult) -> str:
    srv = "?" if r.server_cpu is None else f"{r.server_cpu:.2f}"
    other = "?" if r.foreign_cpu is None else f"{r.foreign_cpu:.2f}"
    return f"{r.loadgen_cpu:.2f} / {srv} / {other}"


def render_report(
    results: Sequence[RunResult],
    servers: Sequence[ServerSpec],
    skipped: dict[str, str],
    failures: Sequence[str],
    info: dict[str, str],
    command: str,
    runs: int,
    scale: Scale,
    started: datetime.datetime,
    elapsed: float,
    nice: int = 0,
) -> str:
    table = medians(results)
    shown = [s for s in SERVERS if s.key in {x.key for x in servers} or s.key in skipped]
    has_ref = REFERENCE in table
    measured = {r.scenario for r in results}
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "Generated by the benchmark suite (`bench/`, see `bench/README.md`); rerun it with "
        "the command below. Numbers are medians over runs; the ratios in parentheses are "
        "against Node socket.io measured in the same run "
        "(for memory and latency, lower is better)."
    )
    w("")
    w(f"- Command: `{command}`")
    w(
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}, "
        f"{runs} run(s) per server and scenario, took {elapsed / 60:.1f} min"
    )
    w(
        f"- Machine: {info['cpu']}, nproc {info['nproc']}, {info['kernel']}; "
        f"Python {info['python']}, Node {info['node']}, {info['cc']}"
    )
    w(
        f"- Versions: socketeer {info['socketeer']}; socket.io {info['socket.io (npm)']} (npm); "
        f"python-socketio {info['python-socketio']} / python-engineio "
        f"{info['python-engineio']}; uvicorn {info['uvicorn']}; aiohttp {info['aiohttp']}; "
        f"uvloop {info['uvloop']}; httptools {info['httptools']}; websockets {info['websockets']}"
    )
    w(
        "- Method: one scenario at a time; in each run every server takes a turn (the order "
        "rotates between runs) as a fresh process pinned to one core (`taskset`), with the C "
        "load generator pinned to the other core; loopback only. "
        f"{scale.duration:g} s measured after {scale.warmup:g} s of warm-up; "
        f"payload: a {scale.payload}-character string."
        + (f" Server and load generator ran at niceness {nice}." if nice else "")
    )
    w("")
    w("## Results")
    w("")
    header = "| metric | unit | " + " | ".join(s.label for s in shown) + " |"
    w(header)
    w("|---|---|" + "---|" * len(shown))
    for metric in METRICS:
        if metric.scenario not in measured:
            continue
        cells = []
        for s in shown:
            if s.key in skipped:
                cells.append("skipped")
                continue
            value = table.get(s.key, {}).get(metric.key)
            if value is None:
                cells.append("failed")
                continue
            cell = fmt_value(metric, value)
            r = ratio(table, s.key, metric.key, REFERENCE) if has_ref else None
            if r is not None and s.key != REFERENCE:
                cell += f" ({r:.2f}x)"
            cells.append(cell)
        w(f"| {metric.label} | {metric.unit} | " + " | ".join(cells) + " |")
    w("")
    if skipped:
        for key, why in skipped.items():
            w(f"- {SERVER_BY_KEY[key].label}: skipped — {why}")
        w("")
    w("## The bar (from the performance issue)")
    w("")
    per_cpu = per_cpu_medians(results)
    w("| server | metric | target | measured | | per server CPU-second |")
    w("|---|---|---|---|---|---|")
    for server, metric_key, base, target, how in BAR:
        metric = METRIC_BY_KEY[metric_key]
        label = SERVER_BY_KEY[server].label
        base_label = SERVER_BY_KEY[base].label
        sign = ">=" if how == "ge" else "<="
        r = ratio(table, server, metric_key, base)
        if r is None:
            why = skipped.get(server, "not measured")
            w(f"| {label} | {metric.label} | {sign} {target}x {base_label} | — | {why} | |")
            continue
        ok = r >= target if how == "ge" else r <= target
        rc = ratio(per_cpu, server, metric_key, base)
        w(
            f"| {label} | {metric.label} | {sign} {target}x {base_label} | {r:.2f}x | "
            f"{'met' if ok else 'not met'} | {'' if rc is None else f'{rc:.2f}x'} |"
        )
    w("")
    render_per_cpu(w, results, shown, skipped)
    w("## Is the load generator the bottleneck?")
    w("")
    w(
        "CPU share over the measured window (1.00 = one full core): the load generator's "
        "from `getrusage`, the server's from `/proc/<pid>/stat`, and *other*: what every "
        "other process used on the two cores (user, system and steal time in `/proc/stat`), "
        "which should be near 0 on a "
        "quiet machine. A server near 1.00 with the load generator well below it means the "
        "server was the limit; a server well below 1.00 with *other* high means the machine "
        "was busy and the run is noisy."
    )
    w("")
    w("| scenario | " + " | ".join(s.label for s in shown if s.key not in skipped) + " |")
    w("|---|" + "---|" * len([s for s in shown if s.key not in skipped]))
    for scenario in SCENARIOS:
        if scenario.key not in measured or scenario.key == "idle":
            continue
        cells = []
        for s in shown:
            if s.key in skipped:
                continue
            rs = [r for r in results if r.server == s.key and r.scenario == scenario.key]
            if not rs:
                cells.append("—")
                continue
            gen = statistics.median(r.loadgen_cpu for r in rs)
            srv = [r.server_cpu for r in rs if r.server_cpu is not None]
            other = [r.foreign_cpu for r in rs if r.foreign_cpu is not None]
            srv_text = f"{statistics.median(srv):.2f}" if srv else "?"
            other_text = f"{statistics.median(other):.2f}" if other else "?"
            cells.append(f"loadgen {gen:.2f} / server {srv_text} / other {other_text}")
        w(f"| {scenario.title} | " + " | ".join(cells) + " |")
    w("")
    w("## Every run")
    w("")
    w("| scenario | server | run | values | CPU: loadgen / server / other | errors |")
    w("|---|---|---|---|---|---|")
    for one in results:
        values = ", ".join(
            f"{METRIC_BY_KEY[k].label.split(',')[0]} {fmt_value(METRIC_BY_KEY[k], v)} "
            f"{METRIC_BY_KEY[k].unit}"
            for k, v in one.metrics.items()
        )
        if one.scenario == "idle":
            values += (
                f" (RSS {one.raw['rss_warm_kib'] / 1024:.0f} -> "
                f"{one.raw['rss_ready_kib'] / 1024:.0f} MiB)"
            )
        err = f"{one.errors}: {one.last_error}" if one.errors else "0"
        who = SERVER_BY_KEY[one.server].label
        w(f"| {one.scenario} | {who} | {one.run + 1} | {values} | {cpu_text(one)} | {err} |")
    w("")
    if failures:
        w("## Runs that failed")
        w("")
        for f in failures:
            w(f"- {f}")
        w("")
    w("## Scenarios")
    w("")
    w(
        f"- **echo**: {scale.echo_clients} WebSocket clients, each keeps {scale.echo_inflight} "
        '`42<id>["echo",payload]` in flight and sends the next one when its ACK `43<id>[...]` '
        "arrives; acknowledged events per second (and their latency under that load)."
    )
    w("- **round trip**: the same with 1 client and 1 event in flight; p50 and p99 of send-to-ACK.")
    w(
        f"- **fan-out**: {scale.fanout_clients} clients join room `room`; a controller "
        '(not in the room) sends `42["broadcast",payload]` and the server emits `news` to the '
        f"room. First {scale.fanout_singles} single broadcasts, one at a time (median time "
        "until every client has it), then sustained: at most "
        f"{scale.fanout_window} broadcasts not yet delivered to everyone; deliveries/s."
    )
    w(
        f"- **idle memory**: {scale.idle_warm} connections warm the server up; its RSS is "
        f"read, {scale.idle_clients:,} more connect (Socket.IO CONNECT done), "
        f"{scale.idle_settle:g} s later RSS is read again; delta / {scale.idle_clients:,}."
    )
    w(
        f"- **connects**: {scale.connect_concurrency} concurrent connectors, each: TCP "
        "connect, WebSocket upgrade, Engine.IO open, Socket.IO CONNECT, then close (RST) "
        "and start over; completed handshakes per second."
    )
    w(
        f"- **polling**: {scale.polling_clients} clients on HTTP long-polling (one keep-alive "
        f"connection each): POST {scale.polling_inflight} echo events in one payload, then "
        "GET until their ACKs are in; acknowledged events per second."
    )
    w("")
    return "\n".join(out)


def print_summary(results: Sequence[RunResult], servers: Sequence[ServerSpec]) -> None:
    table = medians(results)
    keys = [s.key for s in servers]
    log("")
    log(f"{'metric':<46}" + "".join(f"{k:>22}" for k in keys))
    for metric in METRICS:
        if not any(metric.key in table.get(k, {}) for k in keys):
            continue
        row = f"{metric.label[:45]:<46}"
        for k in keys:
            v = table.get(k, {}).get(metric.key)
            if v is None:
                row += f"{'-':>22}"
                continue
            r = ratio(table, k, metric.key, REFERENCE)
            text = fmt_value(metric, v) + (
                f" ({r:.2f}x)" if r is not None and k != REFERENCE else ""
            )
            row += f"{text:>22}"
        log(row + f"  {metric.unit}")


# -- profiling ---------------------------------------------------------------------------


def profile(
    spec: ServerSpec,
    scale: Scale,
    loadgen: Path,
    cpus: tuple[int, int],
    build_dir: Path,
    nice: int = 0,
) -> Path:
    """Sample the server with py-spy during the echo scenario; write a self/total summary."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        raise BenchError("py-spy is not installed in this venv (scripts/bench installs it)")
    port = free_port()
    raw = build_dir / f"profile-{spec.key}-echo.raw"
    seconds = scale.warmup + scale.duration
    log_path = build_dir / "logs" / "profile.log"
    with running_server(spec, port, cpus[1], True, log_path, nice) as server:
        spy = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(cpus[0]),
                pyspy,
                "record",
                "--pid",
                str(server.pid),
                "--rate",
                "250",
                "--nonblocking",
                "--format",
                "raw",
                "--duration",
                str(int(seconds + 2)),
                "-o",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            args = SCENARIO_BY_KEY["echo"].args(scale)
            subprocess.run(
                [
                    *pinned(cpus[0], nice),
                    *(str(loadgen), "echo", "--port", str(port)),
                    *("--duration", str(scale.duration), "--warmup", str(scale.warmup), *args),
                ],
                capture_output=True,
                timeout=scale.connect_timeout + seconds + 30,
                check=False,
            )
            spy.wait(timeout=seconds + 30)
        finally:
            stop_process(spy)
    summary = summarize_profile(raw)
    path = build_dir / f"profile-{spec.key}-echo.txt"
    path.write_text(summary)
    return path


def summarize_profile(raw: Path, top: int = 25) -> str:
    """Self and inclusive sample shares per function (line numbers folded) from py-spy's
    collapsed stacks. Coroutines resumed by the event loop show up as their own roots."""
    self_counts: dict[str, int] = {}
    total_counts: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_fold_line(f) for f in stack.split(";")]
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            total_counts[frame] = total_counts.get(frame, 0) + count
    lines = [f"py-spy samples: {samples} (250 Hz, idle time not sampled)", ""]
    lines.append("self time by function:")
    for frame, count in sorted(self_counts.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * count / max(samples, 1):5.1f}%  {frame}")
    lines += ["", "inclusive time by function:"]
    for frame, count in sorted(total_counts.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * count / max(samples, 1):5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def _fold_line(frame: str) -> str:
    """``f (path.py:12)`` -> ``f (path.py)``."""
    head, sep, tail = frame.rpartition(":")
    if sep and tail.rstrip(") ").isdigit():
        return head + ")"
    return frame


# -- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--servers", default=",".join(s.key for s in SERVERS))
    parser.add_argument("--scenarios", default=",".join(s.key for s in SCENARIOS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, help="measured seconds per run (default 5)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 run (the test suite)")
    parser.add_argument("--output", type=Path, help="the Markdown report (default: see README)")
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=BENCH / "build",
        help="the load generator, server logs, results.json (default bench/build)",
    )
    parser.add_argument("--loadgen", type=Path, help="a load generator binary already built")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the server and the load generator at this niceness (e.g. -10 on a shared "
        "machine; negative values need root or CAP_SYS_NICE)",
    )
    parser.add_argument(
        "--profile",
        metavar="SERVER",
        help="also sample SERVER (a Python one) with py-spy during echo and print the top",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    t0 = time.monotonic()
    scale = SMOKE if args.smoke else FULL
    if args.duration:
        scale = dataclasses.replace(scale, duration=args.duration)
    runs = 1 if args.smoke else args.runs
    try:
        servers = [SERVER_BY_KEY[k] for k in args.servers.split(",") if k]
        scenarios = [SCENARIO_BY_KEY[k] for k in args.scenarios.split(",") if k]
    except KeyError as exc:
        log(
            f"unknown server or scenario {exc}; servers: {', '.join(SERVER_BY_KEY)}; "
            f"scenarios: {', '.join(SCENARIO_BY_KEY)}"
        )
        return 2
    complete = (
        not args.smoke
        and runs >= 3
        and args.duration is None
        and {s.key for s in servers} == set(SERVER_BY_KEY)
        and {s.key for s in scenarios} == set(SCENARIO_BY_KEY)
    )
    output: Path = args.output or (DEFAULT_REPORT if complete else args.build_dir / "benchmarks.md")
    via_script = os.environ.get("SOCKETEER_BENCH_COMMAND")
    command = via_script or shlex.join(["python", "bench/run.py", *(argv or sys.argv[1:])])
    build_dir: Path = args.build_dir
    try:
        check_tools(servers)
        cpus = pick_cpus(args.smoke)
        loadgen = args.loadgen or build_loadgen(build_dir)
    except BenchError as exc:
        log(f"bench: {exc}")
        return 2

    skipped: dict[str, str] = {}
    if any(s.key == "socketeer-native" for s in servers):
        why = native_available()
        if why is not None:
            skipped["socketeer-native"] = f"socketeer.native is not there yet ({why})"
            log(f"socketeer native: SKIPPED — {skipped['socketeer-native']}")
    active = [s for s in servers if s.key not in skipped]
    strict = not args.smoke

    results: list[RunResult] = []
    failures: list[str] = []
    for scenario in scenarios:
        for run in range(runs):
            order = active[run % len(active) :] + active[: run % len(active)] if active else []
            for spec in order:
                if spec.key in skipped:
                    continue
                label = f"{scenario.key:<8} run {run + 1}/{runs}  {spec.key:<17}"
                try:
                    result = run_scenario(
                        scenario, spec, run, scale, loadgen, cpus, strict, build_dir, args.nice
                    )
                except ServerUnavailable as exc:
                    skipped[spec.key] = str(exc)
                    log(f"{label} SKIPPED: {exc}")
                    continue
                except (BenchError, OSError, subprocess.SubprocessError) as exc:
                    failures.append(f"{scenario.key} run {run + 1}, {spec.key}: {exc}")
                    log(f"{label} FAILED: {exc}")
                    continue
                results.append(result)
                shown = ", ".join(
                    f"{k} {fmt_value(METRIC_BY_KEY[k], v)}" for k, v in result.metrics.items()
                )
                err = f"  ERRORS {result.errors}: {result.last_error}" if result.errors else ""
                log(f"{label} {shown}  (CPU loadgen/server/other {cpu_text(result)}){err}")

    info = machine()
    report = render_report(
        results,
        servers,
        skipped,
        failures,
        info,
        command,
        runs,
        scale,
        started,
        time.monotonic() - t0,
        args.nice,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    raw_path = build_dir / "results.json"
    raw_path.write_text(
        json.dumps(
            {
                "command": command,
                "machine": info,
                "scale": dataclasses.asdict(scale),
                "skipped": skipped,
                "failures": failures,
                "runs": [dataclasses.asdict(r) for r in results],
                "medians": medians(results),
            },
            indent=1,
        )
    )
    print_summary(results, active)
    log(f"\nreport: {output}\nraw results: {raw_path}")
    if not complete and args.output is None:
        log("(a partial run: docs/benchmarks.md is written only by a full run, or with --output)")

    if args.profile:
        spec = SERVER_BY_KEY[args.profile]
        if not spec.is_python or spec.key in skipped:
            log(f"--profile: {spec.key} cannot be profiled with py-spy")
            return 2
        path = profile(spec, scale, loadgen, cpus, build_dir, args.nice)
        log(f"\nprofile of {spec.key} during echo ({path}):\n")
        log(path.read_text())

    errors = sum(r.errors for r in results)
    if args.smoke and (failures or errors):
        log(f"smoke run: {len(failures)} failed run(s), {errors} load generator error(s)")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
