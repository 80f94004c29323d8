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
_loaded: tuple[str, Backend] | None = None  # the last backend, reused by consecutive sweep cells


def load_backend(spec: Mapping[str, Any]) -> Backend:
    """Build the backend a model config names (`_target_` plus constructor
    arguments). The same spec twice in a row returns the already-loaded
    backend, so a sweep over prompts or shots loads each model once."""
    global _loaded
    key = json.dumps(spec, sort_keys=True, default=str)
    if _loaded is not None and _loaded[0] == key:
        return _loaded[1]
    _loaded = None  # let the previous model go before loading the next
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
    _loaded = (key, backend)
    return backend
