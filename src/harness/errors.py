"""Errors a user can cause and fix: bad data, bad config, a missing model."""


class HarnessError(Exception):
    """A problem with the user's input. The CLI prints its message (which
    names the file, row, column or config key) and exits non-zero, without a
    traceback. Bugs raise anything else and keep their traceback."""
