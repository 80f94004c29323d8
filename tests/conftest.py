import contextlib
import functools
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The heavy kinds of test (pyproject.toml's markers): each is in the slow tier
# too, so `-m "not slow"` is the fast tier and `-m model` runs one kind.
HEAVY = ("model", "server", "browser", "cli")
CONF = ROOT / "conf"
DEMO = ROOT / "data" / "demo_fa.jsonl"


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if any(item.get_closest_marker(kind) for kind in HEAVY):
            item.add_marker(pytest.mark.slow)


def run_harness(
    *overrides: str, cwd: Path, module: str = "harness", env: dict | None = None, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Run a console entry point as a user would, in its own process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *overrides],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def require(available: bool, what: str) -> None:
    """Skip a test whose outside tool is missing; in CI (HARNESS_CI=1, set by
    .ci/run, which installs them all) fail instead, so nothing skips silently."""
    if not available:
        if os.environ.get("HARNESS_CI"):
            pytest.fail(f"{what} is missing; .ci/run installs it")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port (Debian's
    postgresql package); yields a URL prefix to append a database name to."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    require(bool(found[-1]), "PostgreSQL (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    as_postgres: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    port = free_port()

    def pg(tool: str, *args: str) -> None:
        subprocess.run([*as_postgres, str(bin_dir / tool), *args], check=True, capture_output=True, timeout=120)

    data = folder / "data"
    pg("initdb", "-D", str(data), "-U", "harness", "--auth=trust", "-E", "UTF8", "--no-sync")
    pg(
        "pg_ctl",
        "-D",
        str(data),
        "-l",
        str(folder / "log"),
        "-w",
        "start",
        "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200",
    )
    try:
        for database in ("mlflow", "optuna"):
            pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "harness", database)
        yield f"postgresql+psycopg://harness@127.0.0.1:{port}"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server_process(command: list[str], ready_url: str, env: dict | None = None) -> Iterator[None]:
    """A server process for the body, once `ready_url` answers; its output is
    shown if it never does."""
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(ready_url, timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.time() > deadline or server.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"{' '.join(command)} did not start:\n{log.read()[-2000:].decode()}")
                time.sleep(0.5)
        yield
    finally:
        server.terminate()
        server.wait(30)
        log.close()


@contextlib.contextmanager
def mlflow_server(*args: str, env: dict | None = None) -> Iterator[str]:
    """A real `mlflow server` on a free loopback port for the body; yields its URL."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    with server_process(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", *args],
        f"{uri}/health",
        env=env,
    ):
        yield uri


def compose_config(*overrides: str, config_name: str = "config"):
    """The real configs composed with these overrides, as Hydra gives them to an entry point."""
    from hydra import compose, initialize_config_dir

    from harness.config import register

    register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def composed(*overrides: str, config_name: str = "config"):
    """(typed config, plain values) of the real configs with these overrides."""
    from harness.config import typed

    return typed(compose_config(*overrides, config_name=config_name))


def composed_cell(*overrides: str):
    """The cell the real configs compose to: splits, seeds and examples as
    configured (tests read them from here rather than retyping defaults)."""
    from harness.cell import prepare

    return prepare(composed(*overrides)[0])


@functools.cache
def _empty_store() -> Path:
    """A real MLflow SQLite store with its tables made, once a session: making
    them (MLflow's migrations) takes 2-4 s, copying the file milliseconds."""
    import mlflow

    path = Path(tempfile.mkdtemp(prefix="harness-store-")) / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def store_overrides(folder: Path, experiment: str = "harness") -> list[str]:
    """A tracking store, artifacts and checkpoints of the test's own, under
    `folder` (the store starts as a copy of an empty one)."""
    db = folder / "mlruns" / "mlflow.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_empty_store(), db)
    return [
        f"tracking.uri=sqlite:///{folder}/mlruns/mlflow.db",
        f"tracking.artifact_location={folder}/mlruns/a",
        f"tracking.checkpoints={folder}/mlruns/checkpoints",
        f"tracking.experiment={experiment}",
    ]


def store_runs(folder: Path):
    """Every run in the test's store (an empty frame where there is no store)."""
    import mlflow
    import pandas as pd

    if not (folder / "mlruns" / "mlflow.db").is_file():
        return pd.DataFrame()
    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlruns/mlflow.db")
    return mlflow.search_runs(search_all_experiments=True)


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
    done = run_harness(
        "-m",
        "model=keyword-baseline,smollm2-135m",
        "route=native,reference",
        "dataset.limit=12",
        "prompt.mode=score",
        "prompt.shots=1",
        "tracking.traces=true",
        f"tracking.experiment={experiment}",
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = [
        *(f"keyword-baseline|{r}" for r in ("native", "reference")),  # a baseline reads no examples
        *(f"smollm2-135m|{r}|1shot|score" for r in ("native", "reference")),
    ]
    return {"uri": f"sqlite:///{folder}/mlruns/mlflow.db", "experiment": experiment, "folder": folder, "names": names}
