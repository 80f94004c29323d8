"""Backends: a batch of plain-data requests in, one answer per request out.
Two interfaces: `Backend`, a language model (generate, score), and
`Baseline`, a classifier that decides the features itself (classify, fit).
Each owns its batching and its resources; config chooses the class."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import replace
from typing import Any, Callable, Mapping, Optional, Sequence

from ..config import Mode
from ..errors import HarnessError
from ..prompts import plain_turns
from ..records import Document, Generation, Labels, Request, Scores

OnBatch = Optional[Callable[[int], None]]


class Answerer:
    """What the pipeline keeps of whatever answers a cell's requests, a
    language model or a baseline: what decides its outputs, the prompt as it
    reads it, and the counters a run reports."""

    identity = ""  # what decides its outputs (model, weights, dtype): keys the translation cache
    stats: Mapping[str, float] = {}  # time and token counters since `reset_stats` (time/*, throughput/*)
    peak_gpu_mem_mb = 0.0

    def render(self, request: Request) -> str:
        """The prompt as the model sees it, for the record: here the plain turns."""
        return plain_turns(request.messages)

    def prime(self, requests: Sequence[Request]) -> None:
        """Prepare for a run's requests (a shared prefix, say) before the first batch."""

    def reset_stats(self) -> None:
        """Start the counters a run reports from zero."""
        self.stats, self.peak_gpu_mem_mb = {}, 0.0


class Backend(Answerer):
    """A language model: everything the pipeline asks of one, with what it
    can do declared, not probed. Each method takes a batch of requests and
    returns one answer per request, in order; the backend owns its batching."""

    modes: frozenset[Mode] = frozenset({Mode.generate})  # prompt.mode values it answers
    applies_generation_config = False  # greedy decoding with the model's generation config, as the study's pipeline

    # `on_batch`, where given, is called with the number of requests each
    # finished batch answered (a progress bar); a backend that answers all at
    # once need not call it.
    def generate(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Generation]:
        """The written answer to each request (prompt.mode=generate; translations)."""
        raise NotImplementedError(f"{type(self).__name__} does not generate")

    def score(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Scores]:
        """P(true) at each field of each request's answer template (`"score" in modes`)."""
        raise NotImplementedError(f"{type(self).__name__} does not score")

    def with_options(self, **options: Any) -> Backend:
        """A copy with other settings that need no reload (batch sizes,
        drafts), sharing the loaded model: for ablations. This one stays as
        it was built."""
        unknown = sorted(k for k in options if not hasattr(self, k))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        other = copy.copy(self)
        other.__dict__.update(options)
        return other


class Baseline(Answerer):
    """A classifier that decides each feature itself, in any prompt.mode:
    no prompt read, no text to parse, no examples drawn (keyword,
    tfidf-logreg, knn-vote: the floors a language model must beat)."""

    learns_from_pool = False  # trains on the example pool's labelled documents (`fit`) before classifying

    def classify(self, requests: Sequence[Request], on_batch: OnBatch = None) -> list[Labels]:
        """Feature values (and P(true) where it has them) for each request's text."""
        raise NotImplementedError

    def fit(self, documents: Sequence[Document], keys: Sequence[str]) -> Baseline:
        """A copy that learnt from labelled documents (`learns_from_pool`): the
        pool's, never dev or test ones. This one stays as it was built."""
        raise NotImplementedError(f"{type(self).__name__} does not learn")


def learns_from_pool(answerer: Answerer | type) -> bool:
    """A baseline that trains on the pool (its documents are read, and never scored)."""
    cls = answerer if isinstance(answerer, type) else type(answerer)
    return issubclass(cls, Baseline) and cls.learns_from_pool


def writes_text(answerer: Answerer | type) -> bool:
    """A language model that generates: one that can translate or write examples."""
    cls = answerer if isinstance(answerer, type) else type(answerer)
    return issubclass(cls, Backend) and Mode.generate in cls.modes


def fit_to_context(
    r: Request,
    render: Callable[[Request], str],
    encode: Callable[[str], Sequence[int]],
    decode: Callable[[Sequence[int]], str],
    context: Optional[int],
    max_new_tokens: int,
    truncate: bool,
) -> Request:
    """The request, with its transcript cut from the end if the prompt (plus the
    answer: the template in score mode, else max_new_tokens) would not fit the
    model's context and `truncate` is on; else a clear error."""
    for _ in range(4):  # re-tokenising after a cut can differ by a token or two
        n = len(encode(render(r) + (r.score.text if r.score else "")))
        over = n + (0 if r.score else max_new_tokens) - (context or n)
        if over <= 0:
            return r
        if not truncate:
            raise HarnessError(
                f"document {r.doc_id}: prompt of {n} tokens"
                f"{'' if r.score else f' plus max_new_tokens={max_new_tokens}'} exceeds "
                f"the model's context of {context} (model.backend.truncate=true cuts "
                "such transcripts to fit, and counts them)"
            )
        text_ids = encode(r.text)
        if len(text_ids) <= over:
            raise HarnessError(
                f"document {r.doc_id}: the prompt exceeds the model's context of {context} "
                "even without the transcript (fewer examples, or a shorter prompt)"
            )
        short = decode(text_ids[: len(text_ids) - over - 4])
        last = {**r.messages[-1], "content": r.messages[-1]["content"].replace(r.text, short)}
        r = replace(r, messages=(*r.messages[:-1], last), text=short)
    return r


log = logging.getLogger(__name__)
# The two most recent backends (an extractor and a translator), reused by
# consecutive sweep cells. Older ones are dropped to free their memory.
_loaded: dict[str, Answerer] = {}
_KEEP = 2


def load_backend(spec: Mapping[str, Any]) -> Answerer:
    """Build the backend a model config names (`_target_` plus constructor
    arguments). The same spec twice in a row returns the already-loaded
    backend, so a sweep over prompts or shots loads each model once."""
    key = json.dumps(spec, sort_keys=True, default=str)
    if key in _loaded:
        _loaded[key] = _loaded.pop(key)  # most recently used last
        return _loaded[key]
    while len(_loaded) >= _KEEP:  # let the oldest go before loading the next
        _loaded.pop(next(iter(_loaded)))
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    log.info("loading backend %s", spec.get("path") or spec.get("_target_"))
    try:
        backend = instantiate(dict(spec), _convert_="all")
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, HarnessError):
            raise cause from None
        raise HarnessError(f"model.backend: cannot build {spec.get('_target_')}: {cause or e}") from None
    _loaded[key] = backend
    return backend
