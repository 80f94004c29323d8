import json
import os
import subprocess
import sys
from pathlib import Path

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


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch working directory whose mlruns/ and outputs/ vanish after the test."""
    return tmp_path


@pytest.fixture
def demo_rows() -> list[dict]:
    return [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines()]
