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
