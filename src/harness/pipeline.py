"""One grid cell: the route reads the documents, then build prompts, call the
backend, parse, score. `run_cell` is the one way through a cell for
`harness`, `harness-tune` and the benchmark; it returns a RunResult and knows
nothing of Hydra or MLflow."""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from . import checkpoint as checkpoint_store
from . import metrics, parsing
from .backends import Backend
from .errors import HarnessError
from .prompts import answer_regex, build_messages, filled_template, score_template, template_draft
from .records import Cell, Document, Generation, Prediction, Request, RunResult, Task
from .routes import Route

log = logging.getLogger(__name__)


def build_requests(task: Task, shots: Sequence[Document], documents: Sequence[Document]) -> list[Request]:
    examples = [(s.text, [s.labels[k] for k in task.keys]) for s in shots]
    complete = partial(parsing.is_complete, names=task.names, parser=task.parser)
    template = score_template(task.names, task.fmt, task.style)
    score = template if task.mode == "score" else None
    draft = partial(template_draft, spec=template)
    regex = answer_regex(task.names, task.fmt, task.style)
    return [Request(doc_id=doc.id, text=doc.text, language=task.language, is_complete=complete, draft=draft,
                    score=score, answer_regex=regex,
                    messages=build_messages(system=task.system, lead_in=task.lead_in, names=task.names,
                                            fmt=task.fmt, shots=examples, query=doc.text, style=task.style,
                                            template_names=task.template_names))
            for doc in documents]


def to_prediction(task: Task, doc: Document, split: str, generation: Generation) -> Prediction:
    text, probs = generation.text, None
    if generation.labels is not None:  # backends that predict directly (the keyword baseline)
        values = [generation.labels.get(k) for k in task.keys]
    elif generation.probs is not None:  # score mode: never missing
        values = [p > 0.5 for p in generation.probs]
        probs = dict(zip(task.keys, generation.probs))
        text = filled_template(task.names, values, task.fmt, task.style)
    else:
        values = parsing.PARSERS[task.parser](generation.text, task.names)
    return Prediction(doc_id=doc.id, split=split, raw_output=text, pred=dict(zip(task.keys, values)),
                      gold={k: doc.labels[k] for k in task.keys}, prob=probs)


def render_prompt(backend: Backend, request: Request) -> str:
    """The exact prompt text for the record: the chat template's output where
    the backend has one, else the plain turns."""
    render = getattr(backend, "render", None)
    if render is not None:
        return render(request)
    return "\n\n".join(f"<{m['role']}>\n{m['content']}" for m in request.messages)


def run_cell(
    cell: Cell,
    backend: Backend,
    route: Route,
    *,
    chunk_size: int = 32,
    checkpoint: Optional[Path] = None,
    on_chunk: Optional[Callable[[list[Prediction]], None]] = None,
) -> RunResult:
    """One grid cell: the route reads the examples and the evaluated
    documents, then `run` scores them. The result carries what the route did."""
    reading = route.read(cell.shots + cell.evaluated, cell.language)
    shots, documents = reading.documents[:len(cell.shots)], reading.documents[len(cell.shots):]
    result = run(cell.task, backend, shots, documents, cell.split_of, chunk_size=chunk_size, checkpoint=checkpoint,
                 score_examples=cell.scores_examples, on_chunk=on_chunk)
    result.metrics.update(reading.metrics)
    result.translations = reading.translations
    return result


def run(
    task: Task,
    backend: Backend,
    shots: Sequence[Document],
    documents: Sequence[Document],
    split_of: Mapping[str, str],
    chunk_size: int = 32,
    checkpoint: Optional[Path] = None,
    score_examples: bool = False,
    on_chunk: Optional[Callable[[list[Prediction]], None]] = None,
) -> RunResult:
    """Score `documents`, as the model reads them, with `shots` as examples.
    The backend is called in fixed chunks; with a checkpoint file each
    finished chunk is saved, and chunks already there are read back instead
    of recomputed. `on_chunk` sees the predictions so far after each chunk
    (tuning reports them and may stop the run there). `score_examples`
    (split.evaluate=all) lets the examples be scored too."""
    if not documents:
        raise HarnessError("no documents to evaluate (check dataset.limit and the split fractions)")
    shot_ids = {s.id for s in shots}
    leaked = [d.id for d in documents if d.id in shot_ids]
    if leaked and not score_examples:  # the split guarantees this; a violation is a bug, not a user error
        raise AssertionError(f"documents used as their own examples: {leaked}")
    requests = build_requests(task, shots, documents)
    if hasattr(backend, "reset_stats"):
        backend.reset_stats()
    if hasattr(backend, "prime"):  # the shared prefix from all requests: same batches on a resumed run
        backend.prime(requests)
    saved = checkpoint_store.load(checkpoint)
    if saved:
        log.info("resuming: %d of %d documents already done (%s)", len(saved), len(requests), checkpoint)
    generations: list[Generation] = []
    t0 = time.perf_counter()
    for start in range(0, len(requests), chunk_size):
        chunk = requests[start:start + chunk_size]
        if all(r.doc_id in saved for r in chunk):
            generations += [saved[r.doc_id] for r in chunk]
            continue
        done = backend.generate(chunk)
        checkpoint_store.append(checkpoint, done)
        generations += done
        log.info("%d/%d documents, %.1f s", len(generations), len(requests), time.perf_counter() - t0)
        if on_chunk is not None:
            on_chunk([to_prediction(task, d, split_of[d.id], g) for d, g in zip(documents, generations)])
    predictions = [to_prediction(task, d, split_of[d.id], g) for d, g in zip(documents, generations)]
    per_feature = metrics.score([p.gold for p in predictions], [p.pred for p in predictions], task.keys,
                                [p.prob for p in predictions] if task.mode == "score" and predictions[0].prob else None)
    summary = metrics.summarize(per_feature, len(predictions))
    summary.update(backend_metrics(backend, generations))
    return RunResult(predictions=predictions, per_feature=per_feature, metrics=summary,
                     shot_ids=[s.id for s in shots], example_prompt=render_prompt(backend, requests[0]),
                     example_texts=[s.text for s in shots] + [documents[0].text])


def backend_metrics(backend: Backend, generations: Sequence[Generation]) -> dict[str, float]:
    """Latency and throughput over the backend calls, with the backend's own
    split of that time where it keeps one (shared prefix, prefill, decode)."""
    stats = getattr(backend, "stats", {})
    wall = sum(g.latency_s for g in generations) + stats.get("prefix_s", 0.0)
    out = metrics.latency_summary([g.latency_s for g in generations], sum(g.n_tokens for g in generations), wall)
    for name in ("prefix_s", "prefill_s", "decode_s"):
        if name in stats:
            out[f"time/{name}"] = stats[name]
    if "truncated" in stats:
        out["data/truncated"] = float(stats["truncated"])
    if stats.get("prefill_s"):
        out["throughput/prompt_tokens_per_s"] = stats["prompt_tokens"] / stats["prefill_s"]
    if getattr(backend, "peak_gpu_mem_mb", 0.0):
        out["gpu/peak_mem_mb"] = backend.peak_gpu_mem_mb
    return out
