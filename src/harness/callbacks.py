"""Hydra callbacks (conf/config.yaml's hydra.callbacks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from .errors import mask_passwords


class MaskPasswords(Callback):
    """Hydra writes the composed config to outputs/.hydra/ and multirun.yaml
    before a job starts; a password inside a URI there (tracking.uri,
    tune.storage) is masked, as it is in the params and in every message."""

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        hydra = HydraConfig.get()
        files = []
        if hydra.output_subdir is not None:
            files += Path(hydra.runtime.output_dir, hydra.output_subdir).glob("*.yaml")
        files.append(Path(hydra.sweep.dir) / "multirun.yaml")
        for path in files:
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                if mask_passwords(text) != text:
                    path.write_text(mask_passwords(text), encoding="utf-8")
