"""transformers backend: batched greedy generation with left padding that stops
each sequence as soon as its answer can no longer change."""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, StoppingCriteria

from ..errors import HarnessError
from ..models import fingerprint, resolve_model
from ..records import Generation, Request


class _StopWhenComplete(StoppingCriteria):
    """Per-sequence stop: a finished sequence is padded while the others go on."""

    def __init__(self, tokenizer, prompt_len: int, checks: Sequence[Optional[Callable[[str], bool]]]):
        self.tokenizer, self.prompt_len, self.checks = tokenizer, prompt_len, list(checks)
        self.done = [False] * len(self.checks)

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        for i, check in enumerate(self.checks):
            if not self.done[i] and check is not None:
                self.done[i] = check(self.tokenizer.decode(input_ids[i, self.prompt_len:], skip_special_tokens=True))
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class TransformersBackend:
    def __init__(
        self,
        path: str,
        gguf_file: Optional[str] = None,
        revision: Optional[str] = None,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int = 8,
        max_new_tokens: int = 512,
    ):
        folder = resolve_model(path, gguf_file, revision)
        self.device = _device(device)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        # What decides this backend's outputs: names its translations in the cache.
        self.identity = f"{path}@{fingerprint(folder)}/{dtype}"
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer.padding_side = "left"  # generation continues from the right edge
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.tokenizer.chat_template is None:
            raise HarnessError(f"model {path}: its tokenizer has no chat template (an instruct model is needed)")
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).to(self.device).eval()
        self.context = getattr(self.model.config, "max_position_embeddings", None)
        self.batch_size, self.max_new_tokens = batch_size, max_new_tokens
        self.peak_gpu_mem_mb = 0.0  # the pipeline resets it per run; stays 0 on the CPU
        self.generation_config = GenerationConfig(
            do_sample=False, max_new_tokens=max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.model.generation_config.eos_token_id,
        )

    def render(self, request: Request) -> str:
        """The exact prompt string the model sees."""
        return self.tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True, tokenize=False)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        prompts = [self.render(r) for r in requests]
        lengths = [len(self.tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]
        for r, n in zip(requests, lengths):
            if self.context and n + self.max_new_tokens > self.context:
                raise HarnessError(f"document {r.doc_id}: prompt of {n} tokens plus max_new_tokens="
                                   f"{self.max_new_tokens} exceeds the model's context of {self.context}")
        # Longest first: similar lengths share a batch, so little padding.
        order = sorted(range(len(requests)), key=lambda i: -lengths[i])
        out: list[Optional[Generation]] = [None] * len(requests)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = self.tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                                   add_special_tokens=False).to(self.device)
            prompt_len = batch.input_ids.shape[1]
            stop = _StopWhenComplete(self.tokenizer, prompt_len, [requests[i].is_complete for i in idx])
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
            self._sync()
            t0 = time.perf_counter()
            ids = self.model.generate(**batch, generation_config=self.generation_config, stopping_criteria=[stop])
            self._sync()
            per_doc = (time.perf_counter() - t0) / len(idx)
            if self.device.type == "cuda":
                self.peak_gpu_mem_mb = max(self.peak_gpu_mem_mb, torch.cuda.max_memory_allocated(self.device) / 2**20)
            for row, i in zip(ids[:, prompt_len:], idx):
                n_tokens = int((row != self.tokenizer.pad_token_id).sum())
                text = self.tokenizer.decode(row, skip_special_tokens=True)
                out[i] = Generation(doc_id=requests[i].doc_id, text=text, latency_s=per_doc, n_tokens=n_tokens)
        return out  # type: ignore[return-value]
