"""transformers backend.

Every prompt of a run starts with the same system message and examples, so
their key/value cache is computed once and shared by every document and
batch: a batch row is `shared prefix | padding | the document's own tokens`
(see `layout`).

Two ways to answer:
- generate: greedy decoding that checks drafts of the answer template
  several tokens a step (see `_decode`: exactly greedy decoding's output,
  with the model's generation config applied as `generate()` applies it,
  see `processors`); a sequence stops as soon as its answer can no longer
  change (the request's `is_complete`), the batch when all have;
- score: one forward pass over the document and the answer template with a
  placeholder value per field; at each field the model's next-token logits
  for the true and false words give P(true)."""

from __future__ import annotations

import array
import copy
import functools
import os
import time
from typing import Optional, Sequence

from ..config import Mode
from ..errors import HarnessError
from ..lazy import LazyModule
from ..models import fingerprint, quantization, resolve_model
from ..prompts import plain_turns
from ..records import Generation, Request, Scores
from . import Backend, OnBatch, fit_to_context
from .layout import (
    Attention,
    batch_inputs,
    common_prefix,
    empty_static_cache,
    fill_rows,
    static_cache,
    suffix_positions,
    value_ids,
    value_positions,
)
from .processors import greedy_choices, greedy_processors

torch, transformers = LazyModule("torch"), LazyModule("transformers")

# Room for the answer in a decoding cache (its tokens and the slots of
# unconfirmed drafts). Attention reads the whole static cache, empty room
# included, so it starts at about an answer's worth and grows only for an
# answer that runs longer.
ANSWER_ROOM = 200


def default_dtype(device: torch.device) -> str:
    """bfloat16 where matrix products run natively in it (CUDA; CPUs with AMX
    or AVX512-BF16), else float32."""
    if device.type == "cuda":
        return "bfloat16"
    native = (
        getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        or getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    )
    return "bfloat16" if device.type == "cpu" and native else "float32"


def _inference(method):
    """A method run under torch.inference_mode() (torch imported at its first call)."""

    @functools.wraps(method)
    def run(*args, **kwargs):
        with torch.inference_mode():
            return method(*args, **kwargs)

    return run


class TransformersBackend(Backend):
    modes = frozenset({Mode.generate, Mode.score})
    applies_generation_config = True  # greedy decoding as pipeline(..., do_sample=False) runs it

    def __init__(
        self,
        path: str,
        gguf_file: Optional[str] = None,
        revision: Optional[str] = None,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: int | str = "auto",
        prefill_batch_size: int | str = "auto",
        max_new_tokens: int = 512,
        draft_tokens: int = 24,
        truncate: bool = False,
        max_context: Optional[int] = None,
    ):
        if isinstance(draft_tokens, bool) or not isinstance(draft_tokens, int) or draft_tokens < 0:
            raise HarnessError(f"model.backend.draft_tokens must be a whole number, 0 or more (got {draft_tokens!r})")
        for name, value in (("batch_size", batch_size), ("prefill_batch_size", prefill_batch_size)):
            if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise HarnessError(f"model.backend.{name} must be auto or a whole number, 1 or more (got {value!r})")
        folder = resolve_model(path, gguf_file, revision)
        self.device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
        if self.device.type == "cpu":
            # With a mask (ours: padding, drafts), transformers copies every
            # key/value head group out of the cache before attention, at every
            # step. PyTorch's CPU kernel reads the shared heads in place: generate
            # mode is 1.1-1.3x faster (throughput.py --ablations). Left alone on
            # CUDA, where masked grouped-head attention takes the slowest kernel.
            os.environ.setdefault("TRANSFORMERS_SDPA_FORCE_GQA", "1")
        dtype = default_dtype(self.device) if dtype == "auto" else dtype
        # What decides this backend's outputs: names its translations in the cache.
        self.identity = f"{path}@{fingerprint(folder)}/{dtype}"
        # The weights as the model computes with them (a run's `weights` tag).
        self.weights = f"GGUF {quantization(gguf_file)} dequantized, {dtype}" if gguf_file else dtype
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        # A prompt is tokenized to fit it, to find the shared prefix and to batch
        # it: once is enough (4 bytes a token: a few MB for a run's prompts).
        self._encode = functools.lru_cache(maxsize=4096)(
            lambda text: array.array("i", self.tokenizer(text, add_special_tokens=False).input_ids)
        )
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
        self.model = model.to(self.device).eval()
        self.attention = Attention(self.model.config)  # sliding-window layers (Gemma 3) need masks of their own
        self.context = max_context or getattr(self.model.config, "max_position_embeddings", None)
        self.truncate = truncate  # cut an over-long transcript to fit (counted), instead of stopping
        # Decoding one token for 8 rows costs about twice one row on a 2-core
        # CPU (measured); a GPU needs wide batches to be kept busy.
        self.batch_size = (32 if self.device.type == "cuda" else 8) if batch_size == "auto" else batch_size
        # Rows per forward pass over prompts (score mode's only pass, generate
        # mode's first). Fewer rows a pass, less padding, more passes. On a CPU
        # padding costs about what tokens cost: pairs were 1.04-1.20x faster in
        # float32 (Xeon, --ablations) and 1.34-1.35x in bfloat16 score mode
        # (Zen 4; docs/speed.md). A GPU reads the whole batch at once.
        self.prefill_batch_size = (
            (2 if self.device.type == "cpu" else self.batch_size)
            if prefill_batch_size == "auto"
            else prefill_batch_size
        )
        self.max_new_tokens = max_new_tokens
        self.draft_tokens = draft_tokens
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.process = greedy_processors(self.model.generation_config, sorted(self.eos_ids), path, self.device)
        self._prefix: tuple[tuple[int, ...], object] | None = None  # (token ids, their key/value cache)
        self.reset_stats()
        self._warm_up()

    # -- bookkeeping ---------------------------------------------------------------

    def reset_stats(self) -> None:
        """Time and memory counters a run reports (the pipeline resets them per run)."""
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
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _note_memory(self) -> None:
        if self.device.type == "cuda":
            self.peak_gpu_mem_mb = max(self.peak_gpu_mem_mb, torch.cuda.max_memory_allocated(self.device) / 2**20)

    @_inference
    def _warm_up(self) -> None:
        """One tiny forward pass, so kernel selection and allocation stay out of measured time."""
        ids = self.tokenizer("warm up", return_tensors="pt").input_ids.to(self.device)
        self.model(input_ids=ids)
        self._sync()

    def prime(self, requests: Sequence[Request]) -> None:
        """Compute the prefix shared by all of a run's requests up front, so
        every chunk - and a resumed run's first chunk - uses the same one."""
        if requests:
            rows, limit = self._token_rows([self._fit(r) for r in requests])
            shared = tuple(rows[0][: common_prefix(rows, limit)])
            if self._prefix is None or self._prefix[0] != shared:  # else: the same prefix, already computed
                self._prefix = None
                self._prefix_cache(rows, limit)

    def forget(self) -> None:
        """Drop what earlier requests left cached: the shared prefix and the
        tokenized prompts (the benchmark times computing them too)."""
        self._prefix = None
        self._encode.cache_clear()

    # -- prompts -------------------------------------------------------------------

    def render(self, request: Request) -> str:
        """The exact prompt string the model sees: the chat template's, or for a
        base model without one the turns as plain text after its BOS token."""
        if self.tokenizer.chat_template is None:
            return (self.tokenizer.bos_token or "") + plain_turns(request.messages)
        return self.tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True, tokenize=False)

    def _fit(self, r: Request) -> Request:
        """The request, cut to fit the context where model.backend.truncate allows it."""
        return fit_to_context(
            r,
            self.render,
            self._encode,
            lambda ids: self.tokenizer.decode(list(ids), skip_special_tokens=True),
            self.context,
            self.max_new_tokens,
            self.truncate,
        )

    def _token_rows(self, requests: Sequence[Request]) -> tuple[list[list[int]], int]:
        """Token ids per request (prompt, plus the answer template in score
        mode), and how many leading tokens a shared prefix may cover: it must
        leave every row at least one prompt token of its own."""
        rows, limit = [], None
        for r in requests:
            prompt = self.render(r)
            ids = list(self._encode(prompt + (r.score.text if r.score else "")))
            n_prompt = len(self._encode(prompt)) if r.score else len(ids)
            limit = n_prompt - 1 if limit is None else min(limit, n_prompt - 1)
            rows.append(ids)
        return rows, limit

    @_inference
    def _prefix_cache(self, rows: Sequence[Sequence[int]], limit: int) -> tuple[int, object]:
        """(length, cache) of the shared prefix; reused across calls while it still fits."""
        if self._prefix is not None:
            ids, cache = self._prefix
            n = len(ids)
            if n <= limit and all(tuple(r[:n]) == ids for r in rows):
                return n, cache
        n = common_prefix(rows, limit)
        if n == 0:
            return 0, None
        self._sync()
        t0 = time.perf_counter()
        # Only its keys and values are wanted: no logits over the vocabulary.
        cache = self.model(
            input_ids=torch.tensor([rows[0][:n]], device=self.device),
            use_cache=True,
            cache=self.attention.empty_cache(),
            logits_to_keep=1,
        ).cache
        self._sync()
        self.stats["prefix_s"] += time.perf_counter() - t0
        self.stats["prefix_tokens"] += n
        self._prefix = (tuple(rows[0][:n]), cache)
        return n, cache

    # -- the interface ---------------------------------------------------------------

    def generate(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Generation]:
        return self._batched(requests, self.batch_size, self._decode, on_batch)

    def score(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Scores]:
        return self._batched(requests, self.prefill_batch_size, self._score, on_batch)

    def _batched(self, requests: Sequence[Request], size: int, answer, on_batch: OnBatch) -> list:
        """`answer(batch, its token rows, prefix length, prefix cache)` over
        length-sorted batches of `size`, in the requests' order."""
        if not requests:
            return []
        fitted = [self._fit(r) for r in requests]
        self.stats["truncated"] += sum(f is not r for f, r in zip(fitted, requests))
        requests = fitted
        rows, limit = self._token_rows(requests)
        n_prefix, prefix_cache = self._prefix_cache(rows, limit)
        # Longest first: similar lengths share a batch, so little padding.
        order = sorted(range(len(requests)), key=lambda i: -len(rows[i]))
        out: list = [None] * len(requests)
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            batch, batch_rows = [requests[i] for i in idx], [rows[i] for i in idx]
            self.stats["prompt_tokens"] += sum(len(r) - n_prefix for r in batch_rows)
            for i, a in zip(idx, answer(batch, batch_rows, n_prefix, prefix_cache)):
                out[i] = a
            if on_batch is not None:
                on_batch(len(idx))
        return out

    @_inference
    def _batch_cache(self, prefix_cache, rows: int, static_len: Optional[int] = None):
        """The prefix's keys and values, once per row of a batch. For decoding
        a static cache: appending to a dynamic one copies all of it at every
        step."""
        if static_len is None:
            if prefix_cache is None:
                return self.attention.empty_cache()
            cache = copy.deepcopy(prefix_cache)
            cache.batch_repeat_interleave(rows)
            return cache
        layers = prefix_cache.layers if prefix_cache is not None else []
        return static_cache(
            self.attention.cache_config,
            static_len,
            [(kv.keys.repeat(rows, 1, 1, 1), kv.values.repeat(rows, 1, 1, 1)) for kv in layers],
        )

    def _read(self, ids, mask, n_prefix: int, cache, keep):
        """One forward pass over a batch's own tokens (the prefix's keys and values are in `cache`)."""
        positions = suffix_positions(mask, n_prefix)
        return self.model(
            input_ids=ids[:, n_prefix:],
            position_ids=positions,
            cache=cache,
            use_cache=True,
            attention_mask=self.attention.mask(mask, positions, cache, self.model.dtype),
            logits_to_keep=keep,
        )

    @_inference
    def _prefill(self, rows, n_prefix: int, prefix_cache):
        """Decoding's first pass: every row reads its prompt. Returns the
        batch's mask, a static cache of all its keys and values with
        room for the answers, and the logits for each row's first token. Rows are read
        `prefill_batch_size` at a time, each group padded only to its own
        longest row, then laid side by side at the batch's width. Returns the
        logits for each row's first answer token, not yet chosen."""
        ids, mask = batch_inputs(rows, n_prefix, self.tokenizer.pad_token_id, self.device)
        width, size = ids.shape[1], self.prefill_batch_size
        if len(rows) <= size:  # one pass, straight into the decoding cache
            cache = self._batch_cache(prefix_cache, len(rows), width + ANSWER_ROOM)
            return mask, cache, self._read(ids, mask, n_prefix, cache, 1).logits
        first, cache = [], None
        for start in range(0, len(rows), size):
            group = rows[start : start + size]
            group_ids, group_mask = batch_inputs(group, n_prefix, self.tokenizer.pad_token_id, self.device)
            result = self._read(group_ids, group_mask, n_prefix, self._batch_cache(prefix_cache, len(group_ids)), 1)
            first.append(result.logits)
            if cache is None:  # allocated once: copying groups together would hold the batch's keys 2-3 times
                cache = empty_static_cache(
                    self.attention.cache_config, width + ANSWER_ROOM, len(rows), result.cache.layers
                )
            # The group's own padding sat between prefix and suffix; the batch's wider padding goes there too.
            fill_rows(cache, result.cache.layers, start, n_prefix, width - group_ids.shape[1])
            del result
        for layer in cache.layers:
            layer.cumulative_length.fill_(width)  # decoding appends after the prompts
        return mask, cache, torch.cat(first)

    def _draft(self, request: Request, tokens: list[int]) -> list[int]:
        """The tokens the answer would continue with if it keeps to its template."""
        text = request.draft(self.tokenizer.decode(tokens, skip_special_tokens=True)) if request.template else ""
        return self.tokenizer(text, add_special_tokens=False).input_ids[: self.draft_tokens] if text else []

    @_inference
    def _decode(self, batch, token_rows, n_prefix, prefix_cache) -> list[Generation]:
        """Greedy decoding that checks drafts. Each step feeds every row its
        likely next tokens (the rest of the answer template) and reads the
        model's own choice after each; a row takes the drafts its choices
        confirm, plus its next choice. Each token taken is the greedy choice,
        so the output is greedy decoding's, in a fraction of the steps: an
        answer is mostly template. Rows advance independently: the cache
        slots of a row's unconfirmed drafts stay, masked out, so a row that
        leaves its template holds back no other. A row stops at end of
        sequence, at max_new_tokens, or once its answer can no longer change."""
        rows, pad = len(batch), self.tokenizer.pad_token_id
        out: list[list[int]] = [[] for _ in batch]
        done = [False] * rows
        self._sync()
        t0 = time.perf_counter()
        mask, cache, logits = self._prefill(token_rows, n_prefix, prefix_cache)
        taken = greedy_choices(logits, self.process, token_rows, out, out).tolist()  # out: [] a row: nothing yet
        self._sync()
        first = time.perf_counter()
        lengths = mask.sum(-1)  # each row's tokens so far: the next token's position
        while True:
            for r, tokens in enumerate(taken):
                for t in tokens:
                    if done[r]:
                        break
                    if t in self.eos_ids:
                        done[r] = True
                        break
                    out[r].append(t)
                    done[r] = len(out[r]) >= self.max_new_tokens or (
                        batch[r].parser is not None
                        and batch[r].is_complete(self.tokenizer.decode(out[r], skip_special_tokens=True))
                    )
            if all(done):
                break
            drafts = [[] if done[r] else self._draft(batch[r], out[r]) for r in range(rows)]
            k = max(len(d) for d in drafts)
            used = mask.shape[1]
            if used + k + 1 > cache.get_max_length():  # a long answer: more room
                cache = static_cache(
                    self.attention.cache_config,
                    used + k + 1 + ANSWER_ROOM,
                    [(kv.keys[:, :, :used], kv.values[:, :, :used]) for kv in cache.layers],
                )
            inputs = torch.tensor(
                [[pad] * (k + 1) if done[r] else [out[r][-1]] + d + [pad] * (k - len(d)) for r, d in enumerate(drafts)],
                device=self.device,
            )
            live = torch.tensor([not d for d in done], device=self.device)
            drafted = torch.tensor([len(d) for d in drafts], device=self.device)
            slot = torch.arange(k + 1, device=self.device)
            mask = torch.cat([mask, (live[:, None] & (slot <= drafted[:, None])).long()], dim=1)
            positions = lengths[:, None] + slot
            logits = self.model(
                input_ids=inputs,
                position_ids=positions,
                attention_mask=self.attention.mask(mask, positions, cache, self.model.dtype),
                cache=cache,
                use_cache=True,
            ).logits
            answers = [None if d else o for d, o in zip(done, out)]
            choice = greedy_choices(logits, self.process, token_rows, answers, drafts)
            # How many of its drafts each row's own choices confirm, in order; plus its next choice.
            confirmed = (choice[:, :k] == inputs[:, 1:]).long().cumprod(-1).sum(-1)
            n = torch.minimum(confirmed, drafted) + 1
            mask[:, used:] = (live[:, None] & (slot < n[:, None])).long()  # unconfirmed drafts: holes
            lengths = lengths + n * live
            taken = [c[:m] for c, m in zip(choice.tolist(), n.tolist())]
        self._sync()
        end = time.perf_counter()
        self._note_memory()
        self.stats["prefill_s"] += first - t0
        self.stats["decode_s"] += end - first
        self.stats["gen_tokens"] += sum(len(o) for o in out)
        return [
            Generation(
                doc_id=r.doc_id,
                text=self.tokenizer.decode(o, skip_special_tokens=True),
                latency_s=(end - t0) / len(batch),
                n_tokens=len(o),
            )
            for r, o in zip(batch, out)
        ]

    @_inference
    def _score(self, batch, token_rows, n_prefix, prefix_cache) -> list[Scores]:
        ids, mask = batch_inputs(token_rows, n_prefix, self.tokenizer.pad_token_id, self.device)
        cache = self._batch_cache(prefix_cache, len(batch))
        true_id, false_id = value_ids(self._encode, batch[0].score)
        # The logits that predict each field's value, in each row's suffix
        # (past its padding): computed only there (the vocabulary projection
        # is a fifth of a small model's work).
        columns = [
            [
                j - 1 + ids.shape[1] - len(row) - n_prefix
                for j in value_positions(self.tokenizer, self.render(r), r.score, false_id, r.doc_id)
            ]
            for r, row in zip(batch, token_rows)
        ]
        self._sync()
        t0 = time.perf_counter()
        logits = self._read(ids, mask, n_prefix, cache, torch.tensor(columns, device=self.device)).logits
        probs = torch.sigmoid(logits[..., true_id].float() - logits[..., false_id].float()).tolist()
        self._sync()
        elapsed = time.perf_counter() - t0
        self._note_memory()
        self.stats["prefill_s"] += elapsed
        return [Scores(doc_id=r.doc_id, probs=tuple(p), latency_s=elapsed / len(batch)) for r, p in zip(batch, probs)]
