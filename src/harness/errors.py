"""Errors a user can cause and fix: bad data, bad config, a missing model."""

import sys
from typing import Callable, TypeVar

T = TypeVar("T")


class HarnessError(Exception):
    """A problem with the user's input. The CLI prints its message (which
    names the file, row, column or config key) and exits non-zero, without a
    traceback. Bugs raise anything else and keep their traceback."""


def exit_on_user_error(program: str, body: Callable[[], T]) -> T:
    """Run an entry point's body; a HarnessError becomes one line on stderr and exit status 2."""
    try:
        return body()
    except HarnessError as e:
        print(f"{program}: error: {e}", file=sys.stderr)
        sys.exit(2)


# The config sections only one program reads, and which program that is.
_SECTIONS = {"tune": "harness-tune", "synth": "harness-synth"}


def refuse_other_sections(program: str, argv: list[str]) -> None:
    """`harness tune.n_trials=5` and the like: one clear line and exit 2,
    before Hydra meets a section this program's config does not have."""
    for arg in argv:
        section = arg.lstrip("+~").split(".", 1)[0].split("=", 1)[0]
        if section in _SECTIONS and _SECTIONS[section] != program and "." in arg.split("=", 1)[0]:
            print(f"{program}: error: {arg}: {section}.* settings are {_SECTIONS[section]}'s "
                  f"(run {_SECTIONS[section]} {arg})", file=sys.stderr)
            sys.exit(2)
