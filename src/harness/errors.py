"""Errors a user can cause and fix: bad data, bad config, a missing model, an
unusable store. Each ends in one line on stderr and a non-zero exit; in a
sweep, the failing cell is reported and the sweep goes on to the next."""

import errno
import logging
import os
import re
import sys
from typing import Callable, Optional, Sequence, TypeVar

T = TypeVar("T")
_URI_PASSWORD = re.compile(r"(//[^/:@\s]+:)[^@/\s]+@")  # also as Hydra escapes it: http\://user\:pw@
# Errors of the machine rather than of the harness: a full disk, a read-only or forbidden folder.
_ENVIRONMENT = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


class HarnessError(Exception):
    """A problem with the user's input. The CLI prints its message (which
    names the file, row, column or config key) and exits non-zero, without a
    traceback. Bugs raise anything else and keep their traceback."""


class CellFailed(Exception):
    """A sweep cell that failed on the user's input; its line is printed, the
    sweep goes on, and the command ends non-zero with a summary."""


_failed: list[str] = []  # this process's failed sweep cells, for the summary


def mask_passwords(text: str) -> str:
    """The password inside any URI in `text` becomes ***."""
    return _URI_PASSWORD.sub(r"\1***@", text)


def _sweep_cell() -> Optional[str]:
    """The overrides naming this job's cell, in a multirun; None in a single run."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
    except ImportError:
        return None
    if not HydraConfig.initialized() or HydraConfig.get().mode is not RunMode.MULTIRUN:
        return None
    return " ".join(HydraConfig.get().overrides.task) or f"job {HydraConfig.get().job.num}"


class LogFilter(logging.Filter):
    """On the log handlers Hydra sets up (conf/config.yaml): no password of a
    URI reaches the terminal or a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_passwords(record.getMessage()), ()
        return True


class _Stderr:
    """sys.stderr with URI passwords masked, and without Hydra's own "Error
    executing job" line, which repeats (unmasked) what a failed cell printed."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        if text.startswith("Error executing job with overrides"):
            return len(text)
        return self._stream.write(mask_passwords(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _fail(program: str, message: str) -> None:
    cell = _sweep_cell()
    if cell is None:
        print(mask_passwords(f"{program}: error: {message}"), file=sys.stderr)
        sys.exit(2)
    cell = mask_passwords(cell)
    print(mask_passwords(f"{program}: error: [{cell}] {message}"), file=sys.stderr)
    _failed.append(cell)
    raise CellFailed(mask_passwords(f"[{cell}] {message}")) from None


def exit_on_user_error(program: str, body: Callable[[], T]) -> T:
    """Run an entry point's body: a HarnessError (or a full disk, a read-only
    folder) becomes one line on stderr and exit status 2 - in a sweep, a
    CellFailed that lets the next cell run; Ctrl-C one line and status 130."""
    try:
        return body()
    except HarnessError as e:
        _fail(program, str(e))
    except OSError as e:
        if e.errno not in _ENVIRONMENT:
            raise
        _fail(program, f"cannot write {e.filename or 'a file'}: {e.strerror}")
    except KeyboardInterrupt:
        print(
            f"{program}: interrupted (a run it had started is marked KILLED; the same command resumes it)",
            file=sys.stderr,
        )
        sys.exit(130)
    raise AssertionError("unreachable")


def _config_error_line(e: BaseException) -> str:
    """Hydra's and OmegaConf's composition errors in one line naming the key."""
    cause = e.__cause__ if e.__cause__ is not None else e
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    key = getattr(cause, "full_key", None)
    if key:
        return f"{key}: {first}"
    lines = [line.strip() for line in str(e).splitlines()]
    if "Config search path:" in lines:  # a group value that does not exist: list the ones that do
        lines = lines[: lines.index("Config search path:")]
    options = [line for line in lines[1:] if line and not line.endswith(":")]
    return f"{first}; available: {', '.join(options)}" if options else " ".join(line for line in lines if line)


def run_hydra_app(program: str, app: Callable[[], None], argv: Sequence[str]) -> None:
    """A Hydra entry point's main: Hydra reports to us instead of printing its
    own multi-line errors, a bad config value is one line naming the key, and
    a sweep whose cells failed ends with a summary and exit status 2."""
    refuse_other_sections(program, list(argv))
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; the lines below are the report
    if not isinstance(sys.stderr, _Stderr):
        sys.stderr = _Stderr(sys.stderr)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        app()
    except CellFailed as e:
        failed = _failed or [str(e)]
        print(
            f"{program}: {len(failed)} sweep cell{'s' * (len(failed) > 1)} failed: "
            f"{'; '.join(f'[{c}]' if not c.startswith('[') else c for c in failed)} "
            "(the other cells ran; rerunning the sweep skips the finished ones)",
            file=sys.stderr,
        )
        sys.exit(2)
    except (HydraException, OmegaConfBaseException) as e:
        print(f"{program}: error: {mask_passwords(_config_error_line(e))}", file=sys.stderr)
        sys.exit(2)


# The config sections only one program reads, and which program that is.
_SECTIONS = {"tune": "harness-tune", "synth": "harness-synth"}


def refuse_other_sections(program: str, argv: list[str]) -> None:
    """`harness tune.n_trials=5` and the like: one clear line and exit 2,
    before Hydra meets a section this program's config does not have."""
    for arg in argv:
        section = arg.lstrip("+~").split(".", 1)[0].split("=", 1)[0]
        if section in _SECTIONS and _SECTIONS[section] != program and "." in arg.split("=", 1)[0]:
            print(
                f"{program}: error: {arg}: {section}.* settings are {_SECTIONS[section]}'s "
                f"(run {_SECTIONS[section]} {arg})",
                file=sys.stderr,
            )
            sys.exit(2)
