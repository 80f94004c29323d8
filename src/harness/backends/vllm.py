"""vLLM backend, for GPU machines (`pip install -e '.[vllm]'`): offline batched
generation with automatic prefix caching (the shared system message and
examples are computed once) and structured outputs that hold the answer to
the template, so nothing is missing. Imported only when a model config names
it; CPU installs and tests never need vLLM."""

from __future__ import annotations

import time
from typing import Optional, Sequence

from ..errors import HarnessError
from ..models import fingerprint, resolve_model
from ..records import Generation, Request
from . import Backend, OnBatch


class VLLMBackend(Backend):
    def __init__(
        self,
        path: str,
        gguf_file: Optional[str] = None,
        revision: Optional[str] = None,
        dtype: str = "auto",
        max_new_tokens: int = 512,
        max_model_len: Optional[int] = None,
        gpu_memory_utilization: float = 0.85,
        structured: bool = True,
        seed: int = 42,
    ):
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise HarnessError(
                "model.backend: the vLLM backend needs vLLM (pip install -e '.[vllm]' on a GPU "
                "machine); use harness.backends.hf.TransformersBackend elsewhere"
            ) from None
        folder = resolve_model(path, gguf_file, revision)
        self.identity = f"{path}@{fingerprint(folder)}/{dtype}/vllm"
        self.llm = LLM(
            model=str(folder),
            dtype=dtype,
            seed=seed,
            enable_prefix_caching=True,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
        )
        self._params = SamplingParams
        self.max_new_tokens, self.structured = max_new_tokens, structured
        self.peak_gpu_mem_mb = 0.0

    def _sampling(self, regex: Optional[str]):
        kwargs = dict(temperature=0.0, max_tokens=self.max_new_tokens)
        if regex and self.structured:
            try:  # vLLM >= 0.10
                from vllm.sampling_params import StructuredOutputsParams

                kwargs["structured_outputs"] = StructuredOutputsParams(regex=regex)
            except ImportError:  # older releases
                from vllm.sampling_params import GuidedDecodingParams

                kwargs["guided_decoding"] = GuidedDecodingParams(regex=regex)
        return self._params(**kwargs)

    def generate(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Generation]:
        if not requests:
            return []
        start = time.perf_counter()
        outputs = self.llm.chat(
            [list(r.messages) for r in requests],
            sampling_params=[self._sampling(r.answer_regex) for r in requests],
            use_tqdm=False,
        )
        per_doc = (time.perf_counter() - start) / len(requests)
        try:
            import torch

            if torch.cuda.is_available():
                # vLLM's engine runs in a process of its own, so this process's
                # allocator sees none of it: count what the device has in use
                # (all processes: on a shared GPU, others' too).
                free, total = torch.cuda.mem_get_info()
                self.peak_gpu_mem_mb = max(self.peak_gpu_mem_mb, (total - free) / 2**20)
        except ImportError:
            pass
        return [
            Generation(doc_id=r.doc_id, text=o.outputs[0].text, latency_s=per_doc, n_tokens=len(o.outputs[0].token_ids))
            for r, o in zip(requests, outputs)
        ]
