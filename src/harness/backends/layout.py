"""The layout of a batch of prompts that share a prefix: each row is
`shared prefix | padding | its own tokens`. The padding sits between prefix
and suffix, masked out, so one prefix cache serves rows of any length, and
positions come from the mask, so each token keeps the position it has in its
unpadded prompt. Pure functions on token ids and tensors."""

from __future__ import annotations

from typing import Sequence

import torch
from transformers import StaticCache


def batch_inputs(rows: Sequence[Sequence[int]], n_prefix: int, pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """`prefix | padding | suffix` ids and mask for rows sharing their first `n_prefix` tokens."""
    width = max(len(r) for r in rows) - n_prefix
    ids = [list(r[:n_prefix]) + [pad] * (width - len(r) + n_prefix) + list(r[n_prefix:]) for r in rows]
    mask = [[1] * n_prefix + [0] * (width - len(r) + n_prefix) + [1] * (len(r) - n_prefix) for r in rows]
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


def static_cache(config, length: int, layers: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> StaticCache:
    """A static cache of `length` positions holding these keys and values."""
    cache = StaticCache(config=config, max_cache_len=length)
    for i, (keys, values) in enumerate(layers):
        cache.update(keys, values, i)
    return cache


def suffix_positions(mask: torch.Tensor, n_prefix: int) -> torch.Tensor:
    """Position ids of a `prefix | padding | suffix` batch's suffix tokens:
    they continue from the prefix and skip the padding."""
    return (n_prefix + mask[:, n_prefix:].cumsum(-1) - 1).clamp(min=n_prefix)


def widen(t: torch.Tensor, at: int, gap: int) -> torch.Tensor:
    """Keys or values (batch, heads, positions, dim) with `gap` empty slots inserted at position `at`."""
    if gap == 0:
        return t
    return torch.cat([t[:, :, :at], t.new_zeros(*t.shape[:2], gap, t.shape[3]), t[:, :, at:]], dim=2)


def common_prefix(rows: Sequence[Sequence[int]], limit: int) -> int:
    """Length of the longest token prefix all rows share, at most `limit`."""
    n = 0
    while n < limit and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n
