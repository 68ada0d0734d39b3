"""A smoke run of the benchmark suite (``bench/``), so that it cannot rot.

The benchmark itself is not a test (``scripts/bench``); here every scenario runs for a
fraction of a second with a handful of clients against one server, socketeer's ASGI
front-end on uvicorn from this (the test) venv, through the same driver and the same C
load generator, which must build warning-free. The report must render and every scenario
must produce a non-zero number without a single protocol error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "bench" / "run.py"
SCENARIOS = {
    "echo": ("echo_rate", "echo_p50"),
    "latency": ("rt_p50", "rt_p99"),
    "fanout": ("fanout_single", "fanout_rate"),
    "idle": ("idle_kib",),
    "connect": ("connect_rate",),
    "polling": ("polling_rate",),
}


def require(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"`{tool}` is not on PATH; the benchmark smoke tests need it ({why})")
    return path


@pytest.fixture(scope="module")
def loadgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bench/loadgen.c built the way scripts/bench builds it, plus -Werror."""
    cc = require("cc", "it builds the C load generator; install gcc")
    binary = tmp_path_factory.mktemp("loadgen") / "loadgen"
    argv = [cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary)]
    proc = subprocess.run(
        [*argv, str(ROOT / "bench" / "loadgen.c")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"bench/loadgen.c does not build cleanly:\n{proc.stderr}"
    return binary


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_smoke(scenario: str, loadgen: Path, tmp_path: Path) -> None:
    require("taskset", "it pins the server and the load generator; it is in util-linux")
    report = tmp_path / "benchmarks.md"
    argv = [sys.executable, str(DRIVER), "--smoke", "--servers", "socketeer-asgi"]
    argv += ["--scenarios", scenario, "--loadgen", str(loadgen)]
    argv += ["--build-dir", str(tmp_path), "--output", str(report)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=50, check=False, cwd=ROOT)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"the smoke run of {scenario!r} failed:\n{output}"

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["failures"] == []
    [run] = results["runs"]
    assert (run["server"], run["scenario"], run["errors"]) == ("socketeer-asgi", scenario, 0)
    for metric in SCENARIOS[scenario]:
        assert run["metrics"][metric] > 0, f"{metric} is not positive:\n{output}"
    assert 0 < run["loadgen_cpu"] < 4

    text = report.read_text()
    assert "socketeer ASGI (uvicorn)" in text
    assert "## The bar" in text


def test_node_server_script_parses() -> None:
    """The Node reference server is only run by scripts/bench; at least check its syntax."""
    node = require("node", "the reference server of the benchmark runs on it")
    script = ROOT / "bench" / "node" / "server.mjs"
    proc = subprocess.run(
        [node, "--check", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
