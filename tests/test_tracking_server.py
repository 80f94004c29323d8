"""Runs against a real `mlflow server` on loopback with basic authentication."""

import os
import urllib.error
import urllib.request

import mlflow
import pytest

from .conftest import DEMO, mlflow_server, run_harness

USER, PASSWORD = "admin", "harness-test-only-Pw-7391"  # the auth app's bootstrap admin (ini below)


@pytest.fixture
def auth_server(tmp_path):
    ini = tmp_path / "auth.ini"
    ini.write_text(
        f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{tmp_path}/auth.db\n"
        f"admin_username = {USER}\nadmin_password = {PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-secret"}
    with mlflow_server(
        "--app-name",
        "basic-auth",
        "--backend-store-uri",
        f"sqlite:///{tmp_path}/store.db",
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
        env=env,
    ) as uri:
        yield uri


@pytest.mark.server
def test_sweep_logs_to_an_authenticated_server(auth_server, workdir):
    with pytest.raises(urllib.error.HTTPError) as refused:  # no credentials, no data
        urllib.request.urlopen(f"{auth_server}/api/2.0/mlflow/experiments/search?max_results=10", timeout=10)
    assert refused.value.code == 401

    creds = {"MLFLOW_TRACKING_USERNAME": USER, "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    proc = run_harness(
        "-m",
        "model=keyword-baseline",
        "route=native,reference",
        "dataset.limit=10",
        f"dataset.path={DEMO}",
        f"tracking.uri={auth_server}",
        "tracking.experiment=served",
        cwd=workdir,
        env=creds,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    os.environ.update(creds)
    try:
        mlflow.set_tracking_uri(auth_server)
        runs = mlflow.search_runs(experiment_names=["served"])
        assert sorted(runs["params.route"]) == ["native", "reference"]
        assert set(runs["status"]) == {"FINISHED"}
        assert "predictions.jsonl" in {a.path for a in mlflow.MlflowClient().list_artifacts(runs.run_id.iloc[0])}
    finally:
        for key in creds:
            os.environ.pop(key)
