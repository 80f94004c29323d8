import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
DEMO = ROOT / "data" / "demo_fa.jsonl"


def run_harness(*overrides: str, cwd: Path, module: str = "harness", env: dict | None = None,
                timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a console entry point as a user would, in its own process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *overrides], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def mlflow_server(*args: str, env: dict | None = None) -> Iterator[str]:
    """A real `mlflow server` on a free loopback port for the body; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1", *args], env={**os.environ, **(env or {})},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.time() > deadline or server.poll() is not None:
                    pytest.fail(f"mlflow server {' '.join(args)} did not start")
                time.sleep(0.5)
        yield uri
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch working directory whose mlruns/ and outputs/ vanish after the test."""
    return tmp_path


@pytest.fixture
def demo_rows() -> list[dict]:
    return [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory) -> dict:
    """A real sweep, 2 models x 2 routes, on 12 test documents (score mode keeps
    it to seconds): its store URI, experiment, folder and expected run names."""
    folder = tmp_path_factory.mktemp("sweep")
    experiment = "two-by-two"
    done = run_harness("-m", "model=keyword-baseline,smollm2-135m", "route=native,reference", "dataset.limit=12",
                       "prompt.mode=score", "prompt.shots=1", f"tracking.experiment={experiment}", cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    names = [f"{m}|{r}|1shot|score" for m in ("keyword-baseline", "smollm2-135m") for r in ("native", "reference")]
    return {"uri": f"sqlite:///{folder}/mlruns/mlflow.db", "experiment": experiment, "folder": folder,
            "names": names}
