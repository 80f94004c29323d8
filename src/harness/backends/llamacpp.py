"""llama.cpp backend, in-process (llama-cpp-python): quantized GGUF models
on the CPU as they are, without dequantizing them to float32.

llama.cpp keeps one sequence's keys and values. Every prompt of a run starts
with the same system message and examples, so the cache keeps the longest
prefix a new prompt shares with what it holds - after the first document,
the shared prefix - and only the rest is read (`_read`). The first document
reads its whole prompt, as create_chat_completion's first call does.

llama.cpp's CPU kernels round a token read alone differently from one read
with others (logits differ by up to about 1: docs/speed.md), so only
decoding a token per call, without flash attention (draft_tokens=0,
flash_attn=false: the configs' defaults), gives create_chat_completion's
tokens exactly; drafts and flash attention are faster and can part from
them where two tokens are nearly tied.

Two ways to answer, as the transformers backend:
- generate: greedy decoding that checks drafts of the answer template (the
  tokens the answer continues with if it keeps to its template): one decode
  call reads the last token and the drafts and keeps the greedy choice after
  each; the drafts the choices confirm are taken, the rest leave the cache.
  Each token taken is the argmax of its logits (what the greedy sampler of
  `create_chat_completion(temperature=0)` takes), in fewer calls. It stops
  at an end-of-generation token, at max_new_tokens, or once the answer can
  no longer change.
- score: one pass over the document and the answer template up to its last
  value, logits kept only where a field's value is predicted."""

from __future__ import annotations

import hashlib
import os
import time
import weakref
from typing import Optional, Sequence

import numpy as np

from ..config import Mode
from ..errors import HarnessError
from ..models import gguf_path, quantization
from ..prompts import plain_turns
from ..records import Generation, Request, Scores
from . import Backend, OnBatch, fit_to_context
from .layout import common_prefix, value_ids


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class LlamaCppBackend(Backend):
    modes = frozenset({Mode.generate, Mode.score})

    def __init__(
        self,
        path: str,
        gguf_file: str,
        revision: Optional[str] = None,
        n_ctx: int = 8192,
        n_threads: int | str = "auto",
        n_batch: int = 512,
        max_new_tokens: int = 512,
        draft_tokens: int = 0,
        flash_attn: bool = False,
        truncate: bool = False,
    ):
        try:
            import llama_cpp
        except ImportError:
            raise HarnessError(
                "model.backend: llama-cpp-python is not installed (pip install -e '.[llamacpp]'; "
                "Makefile's LLAMA_CMAKE_ARGS build it for any x86-64 CPU)"
            ) from None
        if isinstance(draft_tokens, bool) or not isinstance(draft_tokens, int) or draft_tokens < 0:
            raise HarnessError(f"model.backend.draft_tokens must be a whole number, 0 or more (got {draft_tokens!r})")
        if n_threads != "auto" and (isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1):
            raise HarnessError(f"model.backend.n_threads must be auto or a whole number, 1 or more (got {n_threads!r})")
        gguf = gguf_path(path, gguf_file, revision)
        self.n_threads = _threads() if n_threads == "auto" else n_threads
        try:
            # swa_full: sliding-window layers (Gemma 3) keep every position, so a
            # later prompt can reuse the shared prefix after a long document.
            self.llama = llama_cpp.Llama(
                model_path=str(gguf),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_ubatch=n_batch,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                swa_full=True,
                flash_attn=flash_attn,
                verbose=False,
            )
        except ValueError as e:
            raise HarnessError(f"model.backend: llama.cpp cannot load {gguf}: {e}") from None
        # Freed with the backend, or at exit before the interpreter tears down
        # the modules llama-cpp-python's own finaliser needs.
        weakref.finalize(self, self.llama.close)
        self._api, self.context, self.n_batch = llama_cpp, self.llama.n_ctx(), n_batch
        self.max_new_tokens, self.draft_tokens, self.truncate = max_new_tokens, draft_tokens, truncate
        with gguf.open("rb") as f:  # the header and first tensors: tells two files apart without reading GBs
            digest = hashlib.sha256(f.read(1 << 24)).hexdigest()[:12]
        self.identity = f"llama.cpp:{path}/{gguf_file}@{digest}-{gguf.stat().st_size}/fa={flash_attn}"
        self.weights = f"GGUF {quantization(gguf_file)}, as stored (llama.cpp)"  # a run's `weights` tag
        self._vocab = llama_cpp.llama_model_get_vocab(self.llama.model)
        self._n_vocab = self.llama.n_vocab()
        self._formatter = self._chat_formatter()
        self._cached: list[int] = []  # the tokens whose keys and values the cache holds, from position 0
        self.reset_stats()

    # -- prompts -------------------------------------------------------------------

    def _chat_formatter(self):
        """The GGUF's own chat template, formatted as create_chat_completion
        formats it; None for a base model without one."""
        template = self.llama.metadata.get("tokenizer.chat_template")
        if template is None:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        model = self.llama._model

        def text(t: int) -> str:
            return model.token_get_text(t) if t != -1 else ""

        return Jinja2ChatFormatter(
            template=template,
            eos_token=text(self.llama.token_eos()),
            bos_token=text(self.llama.token_bos()),
            stop_token_ids=[self.llama.token_eos()],
        )

    def render(self, request: Request) -> str:
        return self._prompt(request)[0]

    def _prompt(self, request: Request) -> tuple[str, bool]:
        """The prompt text and whether it already holds its BOS token."""
        if self._formatter is None:
            return plain_turns(request.messages), False  # llama.cpp adds the BOS token
        result = self._formatter(messages=list(request.messages))
        return result.prompt, bool(result.added_special)

    def _tokens(self, text: str, bos: bool = False) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=bos, special=True)

    def _text(self, ids: Sequence[int]) -> str:
        return self.llama.detokenize(list(ids)).decode("utf-8", errors="ignore")

    def _row(self, request: Request, upto: Optional[int] = None) -> list[int]:
        """The prompt's token ids (plus score mode's template, up to character `upto` of it)."""
        prompt, has_bos = self._prompt(request)
        tail = request.score.text[:upto] if request.score else ""
        return self._tokens(prompt + tail, bos=not has_bos)

    def _fit(self, r: Request) -> Request:
        return fit_to_context(
            r, lambda q: self._prompt(q)[0], self._tokens, self._text, self.context, self.max_new_tokens, self.truncate
        )

    # -- the cache -------------------------------------------------------------------

    def _shared(self, row: Sequence[int], limit: int) -> int:
        """How many leading tokens of `row` (at most `limit`) the cache already holds."""
        return common_prefix([self._cached, row], min(limit, len(self._cached), len(row)))

    def _read(self, row: Sequence[int], keep: Sequence[int] = ()) -> dict[int, np.ndarray]:
        """Bring the cache to hold `row`: keep what it shares with the cached
        tokens, drop the rest, read the remainder (n_batch tokens a call).
        Returns the next-token logits after each position in `keep`."""
        # Logits come from a read: a position they are wanted after is read again.
        n = self._shared(row, min(keep, default=len(row)))
        if not self.llama._ctx.kv_cache_seq_rm(0, n, -1):
            raise HarnessError(
                "llama.cpp could not drop the cache's tail (model.backend: this model's cache does not allow it)"
            )
        want, out = set(keep), {}
        batch = self.llama._batch.batch
        for start in range(n, len(row), self.n_batch):
            chunk = row[start : start + self.n_batch]
            batch.n_tokens = len(chunk)
            for j, token in enumerate(chunk):
                batch.token[j], batch.pos[j], batch.n_seq_id[j] = token, start + j, 1
                batch.seq_id[j][0], batch.logits[j] = 0, (start + j) in want
            self.llama._ctx.decode(self.llama._batch)
            for j in range(len(chunk)):
                if start + j in want:
                    pointer = self._api.llama_get_logits_ith(self.llama._ctx.ctx, j)
                    out[start + j] = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()
        self._cached = list(row)
        return out

    def forget(self) -> None:
        """Empty the cache (the benchmark times reading the prefix too)."""
        self.llama._ctx.kv_cache_seq_rm(0, 0, -1)
        self._cached = []

    def reset_stats(self) -> None:
        self.stats = {
            "prefix_s": 0.0,
            "prefill_s": 0.0,
            "decode_s": 0.0,
            "prefix_tokens": 0,
            "prompt_tokens": 0,
            "gen_tokens": 0,
            "truncated": 0,
        }
        self.peak_gpu_mem_mb = 0.0

    # -- the interface -----------------------------------------------------------------

    def generate(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Generation]:
        return self._each(requests, self._generate, on_batch)

    def score(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Scores]:
        return self._each(requests, self._score, on_batch)

    def _each(self, requests: Sequence[Request], answer, on_batch: OnBatch) -> list:
        out = []
        for r in requests:
            fitted = self._fit(r)
            self.stats["truncated"] += fitted is not r
            out.append(answer(fitted))
            if on_batch is not None:
                on_batch(1)
        return out

    def _draft(self, request: Request, tokens: list[int]) -> list[int]:
        text = request.draft(self._text(tokens)) if request.template and self.draft_tokens else ""
        return self.llama.tokenize(text.encode(), add_bos=False, special=False)[: self.draft_tokens] if text else []

    def _generate(self, r: Request) -> Generation:
        row = self._row(r)
        shared = self._shared(row, len(row) - 1)
        self.stats["prompt_tokens"] += len(row) - shared
        t0 = time.perf_counter()
        choices = [int(np.argmax(self._read(row, [len(row) - 1])[len(row) - 1]))]
        first = time.perf_counter()
        out: list[int] = []
        while True:
            done = False
            for token in choices:
                if self._api.llama_vocab_is_eog(self._vocab, token):
                    done = True
                    break
                out.append(token)
                done = len(out) >= self.max_new_tokens or (r.parser is not None and r.is_complete(self._text(out)))
                if done:
                    break
            if done or len(row) + len(out) >= self.context:
                break
            # The cache holds the prompt and every answer token but the last:
            # read that one and the drafts, keep the greedy choice after each.
            drafts = self._draft(r, out)[: max(0, self.context - len(row) - len(out) - 1)]
            at = len(row) + len(out) - 1
            logits = self._read(row + out + drafts, range(at, at + len(drafts) + 1))
            greedy = [int(np.argmax(logits[at + i])) for i in range(len(drafts) + 1)]
            confirmed = next((i for i, (d, g) in enumerate(zip(drafts, greedy)) if d != g), len(drafts))
            self._cached = self._cached[: len(row) + len(out) + confirmed]  # unconfirmed drafts: dropped on next read
            choices = greedy[: confirmed + 1]
        end = time.perf_counter()
        self.stats["prefill_s"] += first - t0
        self.stats["decode_s"] += end - first
        self.stats["gen_tokens"] += len(out)
        return Generation(doc_id=r.doc_id, text=self._text(out), latency_s=end - t0, n_tokens=len(out))

    def _value_positions(self, r: Request, full: list[int], false_id: int) -> list[int]:
        """Where each field's value token sits in the prompt and template's tokens
        `full`: the last token of the text up to and including that value."""
        out = []
        for _, end in r.score.spans:
            upto = self._row(r, upto=end)
            if full[: len(upto)] != upto or upto[-1] != false_id:
                raise HarnessError(
                    f"document {r.doc_id}: the answer template tokenizes unexpectedly at its "
                    f"character {end} (prompt.mode=score needs each value to be one token)"
                )
            out.append(len(upto) - 1)
        return out

    def _score(self, r: Request) -> Scores:
        true_id, false_id = value_ids(self._tokens, r.score)
        full = self._row(r)
        positions = self._value_positions(r, full, false_id)
        row = full[: positions[-1]]  # the template's tail after the last value is not read
        shared = self._shared(row, len(row) - 1)
        self.stats["prompt_tokens"] += len(row) - shared
        t0 = time.perf_counter()
        logits = self._read(row, [p - 1 for p in positions])
        elapsed = time.perf_counter() - t0
        self.stats["prefill_s"] += elapsed
        probs = tuple(float(1 / (1 + np.exp(logits[p - 1][false_id] - logits[p - 1][true_id]))) for p in positions)
        return Scores(doc_id=r.doc_id, probs=probs, latency_s=elapsed)
