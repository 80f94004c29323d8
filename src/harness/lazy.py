"""A module imported on first use.

The transformers backend's modules name torch and transformers through it,
so reading a backend class - what `plan` does to learn its declared
capabilities - costs no heavy import (seconds on a CPU); building a backend
imports them. Bad data or a bad setting fails before that."""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)  # sys.modules after the first call
