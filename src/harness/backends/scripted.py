"""A backend with no model: answers from a table. For plumbing (resume,
naming, sweeps, pairing, interrupts) and dry runs of a grid, never for a
finding about a model: `model=scripted`."""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional, Sequence

from ..config import Mode
from ..errors import HarnessError
from ..records import Generation, Request, Scores
from . import Backend, OnBatch


class ScriptedBackend(Backend):
    """`answers` maps a document id to its answer: a text in generate mode
    (and when translating), a list of P(true), one per field, in score mode.
    Documents not in the table get `default` or `default_prob` for every
    field. `delay_s` is slept per request, to stand in for a model's time."""

    identity = "scripted"
    modes = frozenset({Mode.generate, Mode.score})

    def __init__(
        self,
        answers: Optional[Mapping[str, Any]] = None,
        default: str = "",
        default_prob: float = 0.25,
        delay_s: float = 0.0,
    ):
        if delay_s < 0 or not 0 <= default_prob <= 1:
            raise HarnessError(
                f"model.backend: delay_s={delay_s} must be >= 0 and default_prob={default_prob} within [0, 1]"
            )
        self.answers = dict(answers or {})
        self.default, self.default_prob, self.delay_s = default, float(default_prob), float(delay_s)

    def _wait(self, n: int, on_batch: OnBatch) -> None:
        if self.delay_s:
            time.sleep(self.delay_s * n)
        if on_batch is not None:
            on_batch(n)

    def generate(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Generation]:
        self._wait(len(requests), on_batch)
        return [
            Generation(doc_id=r.doc_id, text=str(self.answers.get(r.doc_id, self.default)), latency_s=self.delay_s)
            for r in requests
        ]

    def score(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Scores]:
        self._wait(len(requests), on_batch)
        out = []
        for r in requests:
            fields = len(r.score.spans) if r.score else 0
            probs = self.answers.get(r.doc_id, [self.default_prob] * fields)
            if len(probs) != fields:
                raise HarnessError(
                    f"model.backend.answers[{r.doc_id!r}]: {len(probs)} probabilities for {fields} fields"
                )
            out.append(Scores(doc_id=r.doc_id, probs=tuple(float(p) for p in probs), latency_s=self.delay_s))
        return out
