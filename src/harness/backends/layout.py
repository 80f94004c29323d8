"""The layout of a batch of prompts that share a prefix: each row is
`shared prefix | padding | its own tokens`. The padding sits between prefix
and suffix, masked out, so one prefix cache serves rows of any length, and
positions come from the mask, so each token keeps the position it has in its
unpadded prompt. Pure functions on token ids and tensors."""

from __future__ import annotations

import copy
from typing import Callable, Mapping, Optional, Sequence

from ..lazy import LazyModule
from ..records import ScoreSpec

torch, transformers = LazyModule("torch"), LazyModule("transformers")


def batch_inputs(rows: Sequence[Sequence[int]], n_prefix: int, pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """`prefix | padding | suffix` ids and mask for rows sharing their first `n_prefix` tokens."""
    width = max(len(r) for r in rows) - n_prefix
    ids = [list(r[:n_prefix]) + [pad] * (width - len(r) + n_prefix) + list(r[n_prefix:]) for r in rows]
    mask = [[1] * n_prefix + [0] * (width - len(r) + n_prefix) + [1] * (len(r) - n_prefix) for r in rows]
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


def static_cache(config, length: int, layers: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> transformers.StaticCache:
    """A static cache of `length` positions holding these keys and values."""
    cache = transformers.StaticCache(config=config, max_cache_len=length)
    for i, (keys, values) in enumerate(layers):
        cache.update(keys, values, i)
    return cache


def suffix_positions(mask: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """Position ids of a `prefix | padding | suffix` batch's suffix tokens:
    they continue from the prefix and skip the padding."""
    return (n_prefix + mask[:, n_prefix:].cumsum(-1) - 1).clamp(min=n_prefix)


def empty_static_cache(config, length: int, rows: int, like) -> transformers.StaticCache:
    """A zeroed static cache of `length` positions for `rows` rows, its layers
    shaped as the cache layers `like` (heads, head size, dtype, device)."""
    cache = transformers.StaticCache(config=config, max_cache_len=length)
    for layer, kv in zip(cache.layers, like):
        layer.lazy_initialization(
            kv.keys.new_empty(rows, kv.keys.shape[1], 0, kv.keys.shape[3]),
            kv.values.new_empty(rows, kv.values.shape[1], 0, kv.values.shape[3]),
        )
    return cache


def fill_rows(cache: transformers.StaticCache, layers, start: int, n_prefix: int, gap: int) -> None:
    """Copy a group's keys and values (`prefix | padding | suffix`) into rows
    `start`... of `cache`, with `gap` more empty slots after the prefix."""
    for into, kv in zip(cache.layers, layers):
        end, n = start + kv.keys.shape[0], kv.keys.shape[2]
        for target, source in ((into.keys, kv.keys), (into.values, kv.values)):
            target[start:end, :, :n_prefix] = source[:, :, :n_prefix]
            target[start:end, :, n_prefix + gap : n + gap] = source[:, :, n_prefix:]


def common_prefix(rows: Sequence[Sequence[int]], limit: int) -> int:
    """Length of the longest token prefix all rows share, at most `limit`."""
    n = 0
    while n < limit and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n


class Attention:
    """How the backend lays out attention for a model. One whose layers all
    see every position keeps its own caches and takes the 2D mask. One with
    sliding-window layers (Gemma 2 and 3) would get masks from transformers
    that count cache slots, and padding and unconfirmed drafts make slots
    outnumber positions: it gets masks per layer kind counted in positions,
    and caches that keep every key."""

    def __init__(self, config):
        self.windows = attention_windows(config)
        self.cache_config = full_layers(config) if self.windows else config  # for the caches the backend builds

    def empty_cache(self):
        """None (the model makes its own) or, with sliding windows, a cache that keeps every key."""
        return transformers.DynamicCache() if self.windows else None

    def mask(self, mask: torch.Tensor, positions: torch.Tensor, cache, dtype: torch.dtype):
        """The attention mask as the model takes it, for queries at `positions` over `cache`."""
        if not self.windows:
            return mask
        kv_len = cache.get_max_length() if isinstance(cache, transformers.StaticCache) else mask.shape[1]
        return position_masks(mask, positions, kv_len, self.windows, dtype)


def attention_windows(config) -> Optional[dict[str, Optional[int]]]:
    """Layer kind -> how many positions back a query may look (None: all),
    for models with sliding-window layers (Gemma 3: five in six look 512
    back); None for models whose layers all see everything."""
    text = config.get_text_config(decoder=True)
    kinds = set(getattr(text, "layer_types", None) or [])
    if "sliding_attention" not in kinds or not kinds <= {"sliding_attention", "full_attention"}:
        return None
    return {kind: text.sliding_window if kind == "sliding_attention" else None for kind in kinds}


def full_layers(config):
    """The config with every layer attending to all positions: for caches that
    must keep every key (a sliding layer's cache keeps only the last window's
    slots, which padding and drafts make fewer than the window's positions).
    The windows are applied by `position_masks` instead."""
    config = copy.deepcopy(config)
    text = config.get_text_config(decoder=True)
    text.layer_types = ["full_attention"] * len(text.layer_types)
    text.sliding_window = None
    return config


def position_masks(
    mask: torch.Tensor,
    query_positions: torch.Tensor,
    kv_len: int,
    windows: Mapping[str, Optional[int]],
    dtype: torch.dtype,
) -> dict[str, torch.Tensor]:
    """Additive 4D masks, one per layer kind, for a `prefix | padding |
    suffix` cache with holes: a query sees a key that is real (`mask`), not
    after it, and for a sliding layer less than its window behind it, all
    counted in positions rather than cache slots. `mask` covers the cache's
    first slots (the rest are empty); `kv_len` is the cache's length."""
    valid = torch.zeros(mask.shape[0], kv_len, dtype=torch.bool, device=mask.device)
    valid[:, : mask.shape[1]] = mask.bool()
    keys = torch.zeros_like(valid, dtype=torch.long)
    keys[:, : mask.shape[1]] = mask.cumsum(-1) - 1  # each real key's position
    q, k = query_positions[:, :, None], keys[:, None, :]
    seen = valid[:, None, :] & (k <= q)
    out = {}
    for kind, window in windows.items():
        allowed = seen if window is None else seen & (q - k < window)
        out[kind] = torch.zeros(allowed.shape, dtype=dtype, device=mask.device).masked_fill(
            ~allowed, torch.finfo(dtype).min
        )[:, None]
    return out


def value_ids(encode: Callable[[str], Sequence[int]], spec: ScoreSpec) -> tuple[int, int]:
    """Token ids of the true and false words where the template puts a value
    (`encode`: text to token ids, no special tokens added)."""
    start, end = spec.spans[0]
    placeholder = encode(spec.text)
    alternative = encode(spec.text[:start] + spec.true_word + spec.text[end:])
    j = next(k for k, (a, b) in enumerate(zip(placeholder, alternative)) if a != b)
    return alternative[j], placeholder[j]


def value_positions(tokenizer, prompt: str, spec: ScoreSpec, false_id: int, doc_id: str) -> list[int]:
    """Where each field's value token sits in the tokens of `prompt + spec.text`."""
    enc = tokenizer(prompt + spec.text, add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for start, _ in spec.spans:
        at = len(prompt) + start
        j = next(k for k, (_, end) in enumerate(enc.offset_mapping) if end > at)  # the token holding `at`
        if enc.input_ids[j] != false_id:
            raise RuntimeError(f"document {doc_id}: the answer template tokenizes unexpectedly at {at}")
        out.append(j)
    return out
