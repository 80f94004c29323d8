"""Reaching the tracking store: connect (probing servers and databases
first, so a dead one fails in seconds), find or create the experiment, and
check before a run exists what MLflow would refuse mid-run. One clear line
for each failure."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import mlflow

from ..errors import HarnessError, mask_passwords

# A key's last part naming a secret: hf_token, api_key, db_password; not a
# count such as max_new_tokens.
_SECRET_KEY = re.compile(
    r"(^|[._])([a-z0-9]*_)?(password|passwd|secret|token|api_key|apikey|credentials?)$", re.IGNORECASE
)


def redact(key: str, value: Any) -> Any:
    """Params never carry secrets: a secret-looking key's value, or the
    password inside a URI, becomes ***."""
    if _SECRET_KEY.search(key):
        return "***"
    return mask_passwords(value) if isinstance(value, str) else value


def _is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


# The database drivers a store URI may need, by the module that is missing.
_DRIVERS = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary', or write postgresql+psycopg:// for psycopg 3",
    "pymysql": "pymysql",
    "MySQLdb": "mysqlclient",
}


@contextlib.contextmanager
def store_errors(uri: str) -> Iterator[None]:
    """What the tracking store refuses (unreachable, read-only, unknown scheme,
    a missing driver) as one HarnessError naming the URI, its password masked."""
    import requests
    import sqlalchemy.exc

    shown = mask_passwords(uri)
    try:
        yield
    except ModuleNotFoundError as e:
        if e.name not in _DRIVERS:
            raise
        raise HarnessError(
            f"tracking.uri={shown} needs the database driver {e.name} (pip install '{_DRIVERS[e.name]}')"
        ) from None
    except (
        mlflow.exceptions.MlflowException,
        sqlalchemy.exc.SQLAlchemyError,
        requests.exceptions.RequestException,
    ) as e:
        detail = " ".join(str(getattr(e, "message", e)).split())[:300]
        raise HarnessError(f"tracking store {shown}: {mask_passwords(detail)}") from None


def _experiment_id(name: str, artifact_location: Optional[str], uri: str) -> str:
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage == "deleted":
        raise HarnessError(
            f"experiment {name!r} was deleted in {mask_passwords(uri)} (restore it with "
            f"`mlflow experiments restore --experiment-id {found.experiment_id}`, or name another "
            "in tracking.experiment)"
        )
    if found is not None:
        return found.experiment_id
    location = Path(artifact_location).resolve().as_uri() if artifact_location and _is_local_store(uri) else None
    try:
        # The MLflow UI then opens the runs table rather than its GenAI overview.
        return client.create_experiment(
            name, artifact_location=location, tags={"mlflow.experimentKind": "custom_model_development"}
        )
    except mlflow.exceptions.MlflowException:
        found = client.get_experiment_by_name(name)  # a parallel job created it first
        if found is None:
            raise
        return found.experiment_id


def _probe(uri: str, timeout_s: float) -> None:
    """A tracking server answers within timeout_s, or the run stops here
    (MLflow itself retries for minutes without a word)."""
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=timeout_s)  # any answer will do: auth is checked later
    except requests.exceptions.RequestException as e:
        kind = "no answer" if isinstance(e, requests.exceptions.Timeout) else "cannot connect"
        raise HarnessError(
            f"tracking.uri={mask_passwords(uri)}: {kind} within {timeout_s:g} s "
            "(is the server running? tracking.timeout_s sets the wait)"
        ) from None


def _probe_database(uri: str, timeout_s: float) -> None:
    """A database server answers within timeout_s (MLflow retries a refused
    connection for many minutes)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        uri, poolclass=sqlalchemy.pool.NullPool, connect_args={"connect_timeout": max(int(timeout_s), 1)}
    )
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.OperationalError as e:
        detail = " ".join(str(e.orig).split())[:200]
        raise HarnessError(
            f"tracking.uri={mask_passwords(uri)}: cannot connect within {timeout_s:g} s ({mask_passwords(detail)})"
        ) from None
    finally:
        engine.dispose()


_SCHEMES = ("", "file", "sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")


def connect(uri: str, timeout_s: float = 30.0) -> None:
    """Point MLflow at the store. Parallel jobs opening a new SQLite store at
    once race on MLflow's schema migrations, so the first creates it under a lock."""
    import os
    from urllib.parse import urlparse

    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme not in _SCHEMES and not (len(scheme) == 1 and "://" not in uri):  # C:\... is a folder
        raise HarnessError(
            f"tracking.uri={mask_passwords(uri)}: unknown scheme {scheme!r} (a folder, "
            "sqlite:///file.db, http(s)://server or postgresql+psycopg://...)"
        )
    if scheme in ("http", "https"):
        _probe(uri, timeout_s)
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(timeout_s, 1)))
    elif scheme in ("postgresql", "mysql", "mssql"):
        _probe_database(uri, timeout_s)
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:///"):
        from filelock import FileLock

        db = Path(uri.removeprefix("sqlite:///"))
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HarnessError(f"tracking.uri={uri}: cannot create its folder {db.parent} ({e.strerror})") from None
        try:
            with FileLock(f"{db}.lock"):
                mlflow.MlflowClient().search_experiments(max_results=1)
        except OSError as e:
            raise HarnessError(f"tracking.uri={uri}: cannot use {db} ({e.strerror})") from None
    else:
        mlflow.MlflowClient().search_experiments(max_results=1)  # an unknown scheme or driver fails here


def open_store(uri: str, experiment: str, artifact_location: Optional[str], timeout_s: float = 30.0) -> str:
    """Connect and return the experiment's id (created if new)."""
    connect(uri, timeout_s)
    return _experiment_id(experiment, artifact_location, uri)


def check_names(metric_keys: Sequence[str], param_keys: Sequence[str]) -> None:
    """Every metric and param name the run will log is one MLflow accepts, checked before the run exists."""
    from mlflow.utils import validation

    for check, keys, what in (
        (validation._validate_metric_name, metric_keys, "metric"),
        (validation._validate_param_name, param_keys, "param"),
    ):
        for key in keys:
            try:
                check(key)
                if len(key) > validation.MAX_ENTITY_KEY_LENGTH:
                    raise mlflow.exceptions.MlflowException(
                        f"longer than {validation.MAX_ENTITY_KEY_LENGTH} characters"
                    )
            except mlflow.exceptions.MlflowException as e:
                raise HarnessError(
                    f"MLflow refuses the {what} name {key!r} (from a feature key or setting): "
                    f"{' '.join(e.message.split())[:200]}"
                ) from None


def writable(folder: Path, what: str) -> None:
    """Create `folder` and write a file in it, or one clear error naming the setting."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".harness-check-"):
            pass
    except OSError as e:
        raise HarnessError(f"{what}={folder}: cannot write there ({e.strerror})") from None


def open_experiment(uri: str, experiment: str, artifact_location: Optional[str], timeout_s: float) -> None:
    """Connect, find or create the experiment, and check that a local artifact
    folder can be written: before the run exists."""
    experiment_id = open_store(uri, experiment, artifact_location, timeout_s)
    location = mlflow.MlflowClient().get_experiment(experiment_id).artifact_location or ""
    if location.startswith("file:") or "://" not in location:
        from urllib.parse import unquote, urlparse

        writable(
            Path(unquote(urlparse(location).path) if location.startswith("file:") else location),
            "tracking.artifact_location",
        )
