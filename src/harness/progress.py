"""Progress bars with rate and ETA, on stderr and only when it is a terminal:
in logs and CI the per-chunk log lines say the same without the noise."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Optional, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def shown() -> bool:
    return sys.stderr.isatty()


def bar(total: int, what: str, unit: str = "doc") -> tqdm:
    """A bar to `update(n)` as work finishes (a no-op object off a terminal)."""
    return tqdm(
        total=total, desc=what, unit=unit, file=sys.stderr, disable=not shown(), leave=False, dynamic_ncols=True
    )


@contextmanager
def batch_bar(total: int, what: str) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """A bar advanced batch by batch where a backend reports them. Yields
    `(on_batch, advance)`: pass `on_batch` to the backend call; call
    `advance(n)` after each call of n requests (or n resumed ones): it counts
    what the batches did not."""
    reported = 0

    def on_batch(n: int) -> None:
        nonlocal reported
        reported += n
        shown.update(n)

    def advance(n: int) -> None:
        nonlocal reported
        shown.update(max(n - reported, 0))
        reported = 0

    with bar(total, what) as shown:
        yield on_batch, advance


def each(items: Iterable[T], what: str, total: Optional[int] = None, unit: str = "it") -> Iterable[T]:
    """`items`, with a bar while they are gone through."""
    return tqdm(
        items, desc=what, total=total, unit=unit, file=sys.stderr, disable=not shown(), leave=False, dynamic_ncols=True
    )


def sweep_position(job_num: int, argv: list[str]) -> Optional[str]:
    """ "cell 3 of 8" for a job of a sweep started in this process (`harness
    -m ...`): the total is the product of the command line's sweep values.
    None where that cannot be told (a job started by a cluster launcher)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        overrides = OverridesParser.create().parse_overrides([a for a in argv if "=" in a and not a.startswith("-")])
    except Exception:  # not Hydra's command line (a submitit job, a test runner)
        return None
    total = 1
    for o in overrides:
        if o.is_sweep_override():
            total *= len(list(o.sweep_iterator()))
    return f"cell {job_num + 1} of {total}" if total > 1 else None
