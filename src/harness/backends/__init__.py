"""Backends: one interface, a batch of requests in, a batch of generations out.
Each backend owns its batching and its resources; config chooses the class."""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Protocol, Sequence

from ..errors import HarnessError
from ..records import Generation, Request


class Backend(Protocol):
    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        """One generation per request, in the same order."""
        ...


log = logging.getLogger(__name__)
# The two most recent backends (an extractor and a translator), reused by
# consecutive sweep cells. Older ones are dropped to free their memory.
_loaded: dict[str, Backend] = {}
_KEEP = 2


def load_backend(spec: Mapping[str, Any]) -> Backend:
    """Build the backend a model config names (`_target_` plus constructor
    arguments). The same spec twice in a row returns the already-loaded
    backend, so a sweep over prompts or shots loads each model once."""
    key = json.dumps(spec, sort_keys=True, default=str)
    if key in _loaded:
        _loaded[key] = _loaded.pop(key)  # most recently used last
        return _loaded[key]
    while len(_loaded) >= _KEEP:  # let the oldest go before loading the next
        _loaded.pop(next(iter(_loaded)))
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    log.info("loading backend %s", spec.get("path") or spec.get("_target_"))
    try:
        backend = instantiate(dict(spec), _convert_="all")
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, HarnessError):
            raise cause from None
        raise HarnessError(f"model.backend: cannot build {spec.get('_target_')}: {cause or e}") from None
    _loaded[key] = backend
    return backend
