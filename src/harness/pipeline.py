"""One grid cell: the route reads the documents, then build prompts, call the
backend, parse, score. `run_cell` is the one way through a cell for
`harness`, `harness-tune` and the benchmark; it returns a RunResult and knows
nothing of Hydra or MLflow."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from . import calibration as calibrations
from . import checkpoint as checkpoint_store
from . import metrics, neighbours, parsing, progress
from .backends import Answerer, Backend, Baseline, learns_from_pool
from .config import Calibration, Mode
from .errors import HarnessError
from .prompts import answer_regex, build_messages, filled_template, score_template
from .records import Answer, Cell, Document, Generation, Labels, Prediction, Request, RunResult, Scores, Task
from .routes import Route

log = logging.getLogger(__name__)


Examples = Optional[Mapping[str, Sequence[Document]]]  # document id -> its own examples (prompt.selection=knn)


def build_requests(
    task: Task, shots: Sequence[Document], documents: Sequence[Document], examples: Examples = None
) -> list[Request]:
    """One request per document, with `shots` as examples, or each document's
    own where `examples` has them."""

    def shown(doc: Document) -> list[tuple[str, list[bool]]]:
        own = examples[doc.id] if examples is not None else shots
        return [(s.text, [s.labels[k] for k in task.keys]) for s in own]

    template = score_template(task.names, task.fmt, task.style)
    score = template if task.mode is Mode.score else None
    regex = answer_regex(task.names, task.fmt, task.style)
    return [
        Request(
            doc_id=doc.id,
            text=doc.text,
            language=task.language,
            fields=tuple(task.names),
            parser=task.parser,
            template=template,
            score=score,
            answer_regex=regex,
            messages=build_messages(
                system=task.system,
                lead_in=task.lead_in,
                names=task.names,
                fmt=task.fmt,
                shots=shown(doc),
                query=doc.text,
                style=task.style,
                template_names=task.template_names,
            ),
        )
        for doc in documents
    ]


def to_prediction(
    task: Task,
    doc: Document,
    split: str,
    answer: Answer,
    thresholds: Optional[Mapping[str, float]] = None,
    shot_ids: Optional[tuple[str, ...]] = None,
) -> Prediction:
    """The answer read as feature values; in score mode a field is true above
    its threshold (`thresholds` per feature, else the task's)."""
    probs = None
    if isinstance(answer, Labels):  # predicted directly (the baselines)
        values = [answer.labels.get(k) for k in task.keys]
        probs = dict(answer.probs) if answer.probs is not None else None
        text = json.dumps(dict(answer.labels))
    elif isinstance(answer, Scores):  # score mode: never missing
        values = [p > (thresholds or {}).get(k, task.threshold) for k, p in zip(task.keys, answer.probs)]
        probs = dict(zip(task.keys, answer.probs))
        text = filled_template(task.names, values, task.fmt, task.style)
    else:
        values, text = parsing.PARSERS[task.parser](answer.text, task.names), answer.text
    return Prediction(
        doc_id=doc.id,
        split=split,
        raw_output=text,
        pred=dict(zip(task.keys, values)),
        gold={k: doc.labels[k] for k in task.keys},
        prob=probs,
        shot_ids=shot_ids,
    )


def answering(task: Task, backend: Answerer) -> Callable[[Sequence[Request]], list[Answer]]:
    """The backend method that answers this task's requests, or a clear error
    where the backend cannot (checked before a run starts)."""
    if isinstance(backend, Baseline):
        return backend.classify
    if task.mode not in backend.modes:
        raise HarnessError(
            f"prompt.mode={task.mode.value}: {type(backend).__name__} answers only "
            f"{', '.join(sorted(m.value for m in backend.modes))} (score mode needs the "
            "transformers backend)"
        )
    return backend.score if task.mode is Mode.score else backend.generate


def run_cell(
    cell: Cell,
    backend: Answerer,
    route: Route,
    *,
    chunk_size: int = 32,
    checkpoint: Optional[Path] = None,
    on_chunk: Optional[Callable[[list[Prediction]], None]] = None,
) -> RunResult:
    """One grid cell: the route reads, in one go, the examples, the pool (for
    a backend that learns, which is trained on it), the dev documents that
    calibrate thresholds and the evaluated documents; then `run` scores the
    evaluated ones. The result carries what the route did."""
    learns = learns_from_pool(backend)
    if learns and cell.scores_examples:
        raise HarnessError(
            "split.evaluate=all would score the pool documents a learning baseline trains on (use test, dev or nonpool)"
        )
    task = cell.task
    reads_pool = learns or cell.neighbours or task.calibration is Calibration.domain
    parts = [list(cell.pool) if reads_pool else [], cell.shots, cell.calibration, cell.evaluated]
    reading = route.read([d for part in parts for d in part], cell.language)
    read = iter(reading.documents)
    pool, shots, calibration, documents = ([next(read) for _ in part] for part in parts)
    if learns:
        backend = backend.fit(pool, task.keys)
    references = [] if isinstance(backend, Baseline) else _references(cell, pool)
    # knn: each document's examples, compared as this route reads them.
    queries = references + calibration + documents
    examples = neighbours.examples(pool, queries, cell.neighbours, cell.nearest_first) if cell.neighbours else None
    offsets, reference_s = _reference_offsets(task, backend, shots, references, examples)
    thresholds = calibrate(task, backend, shots, calibration, examples, offsets) if calibration else None
    result = run(
        cell.task,
        backend,
        shots,
        documents,
        cell.split_of,
        chunk_size=chunk_size,
        checkpoint=checkpoint,
        score_examples=cell.scores_examples,
        on_chunk=on_chunk,
        thresholds=thresholds,
        examples=examples,
        offsets=offsets,
        reference_s=reference_s,
    )
    result.metrics.update(reading.metrics)
    result.metrics.update({f"threshold/{k}": t for k, t in (thresholds or {}).items()})
    result.translations = reading.translations
    return result


def _references(cell: Cell, pool: Sequence[Document]) -> list[Document]:
    """contextual, domain calibration: the transcripts whose P(true) sets the
    offsets (`pool` as the route reads it); none for the other methods."""
    texts = calibrations.reference_texts(
        cell.task.calibration, [d.text for d in pool], cell.calibration_samples, cell.seed
    )
    return [Document(id=f"<calibration {i}>", text=t, labels={}) for i, t in enumerate(texts)]


def _reference_offsets(
    task: Task, backend: Backend, shots: Sequence[Document], references: Sequence[Document], examples: Examples
) -> tuple[Optional[list[float]], float]:
    """Per-field offsets from the references' P(true) in the cell's prompt,
    and the seconds the passes took (counted in the run's throughput)."""
    if not references:
        return None, 0.0
    scored = backend.score(build_requests(task, shots, references, examples))
    return calibrations.reference_offsets([s.probs for s in scored]), sum(s.latency_s for s in scored)


def calibrate(
    task: Task,
    backend: Backend,
    shots: Sequence[Document],
    documents: Sequence[Document],
    examples: Examples = None,
    offsets: Optional[Sequence[float]] = None,
) -> dict[str, float]:
    """Per feature, the threshold on P(true) that maximises its macro-F1 on
    these (dev) documents, scored and calibrated as the evaluated ones are
    (batch calibration: over these documents)."""
    rows = [s.probs for s in backend.score(build_requests(task, shots, documents, examples))]
    if task.calibration is Calibration.batch:
        offsets = calibrations.batch_offsets(rows)
    if offsets is not None:
        rows = [calibrations.shifted(r, offsets) for r in rows]
    log.info("calibrated thresholds on %d dev documents", len(documents))
    return {
        k: metrics.best_threshold([d.labels[k] for d in documents], [r[i] for r in rows])
        for i, k in enumerate(task.keys)
    }


def _shifted(answer: Answer, offsets: Optional[Sequence[float]]) -> Answer:
    if offsets is None or not isinstance(answer, Scores):
        return answer
    return replace(answer, probs=calibrations.shifted(answer.probs, offsets))


def run(
    task: Task,
    backend: Answerer,
    shots: Sequence[Document],
    documents: Sequence[Document],
    split_of: Mapping[str, str],
    chunk_size: int = 32,
    checkpoint: Optional[Path] = None,
    score_examples: bool = False,
    on_chunk: Optional[Callable[[list[Prediction]], None]] = None,
    thresholds: Optional[Mapping[str, float]] = None,
    examples: Examples = None,
    offsets: Optional[Sequence[float]] = None,
    reference_s: float = 0.0,
) -> RunResult:
    """Score `documents`, as the model reads them, with `shots` as examples
    (or each document's own, in `examples`). Score mode: each P(true) is
    shifted by `offsets` (contextual, domain calibration; `reference_s`,
    the time they took, counts in the throughput) or by the evaluated
    documents' own (batch calibration).
    The backend is called in fixed chunks; with a checkpoint file each
    finished chunk is saved, and chunks already there are read back instead
    of recomputed. `on_chunk` sees the predictions so far after each chunk
    (tuning reports them and may stop the run there). `score_examples`
    (split.evaluate=all) lets the examples be scored too."""
    if not documents:
        raise HarnessError("no documents to evaluate (check dataset.limit and the split fractions)")
    own = {d.id: tuple(s.id for s in examples[d.id]) for d in documents} if examples is not None else {}
    shot_ids = set() if score_examples else {s.id for s in shots}
    leaked = [d.id for d in documents if d.id in shot_ids or d.id in own.get(d.id, ())]
    if leaked:  # the split and harness.neighbours guarantee this; a violation is a bug, not a user error
        raise AssertionError(f"documents used as their own examples: {leaked}")
    requests = build_requests(task, shots, documents, examples)
    answer = answering(task, backend)
    reset_peak_rss()
    backend.reset_stats()
    backend.prime(requests)  # e.g. the shared prefix from all requests: same batches on a resumed run
    saved = checkpoint_store.load(checkpoint)
    if saved:
        log.info("resuming: %d of %d documents already done (%s)", len(saved), len(requests), checkpoint)
    answers: list[Answer] = []
    predictions: list[Prediction] = []

    def decide(d: Document, a: Answer, shift: Optional[Sequence[float]]) -> Prediction:
        return to_prediction(task, d, split_of[d.id], _shifted(a, shift), thresholds, own.get(d.id))

    t0 = time.perf_counter()
    with progress.batch_bar(len(requests), "documents") as (on_batch, advance):
        for start in range(0, len(requests), chunk_size):
            chunk = requests[start : start + chunk_size]
            resumed = all(r.doc_id in saved for r in chunk)
            if resumed:
                done = [saved[r.doc_id] for r in chunk]
            else:
                done = answer(chunk, on_batch=on_batch)
                checkpoint_store.append(checkpoint, done)
                log.info("%d/%d documents, %.1f s", len(answers) + len(done), len(requests), time.perf_counter() - t0)
            advance(len(chunk))
            part = documents[len(answers) : len(answers) + len(done)]
            answers += done
            if task.calibration is Calibration.batch and isinstance(done[0], Scores):
                # The offsets move with each chunk: every answer so far is decided again (no parsing: scores).
                offsets = calibrations.batch_offsets([a.probs for a in answers])
                predictions = [decide(d, a, offsets) for d, a in zip(documents, answers)]
            else:  # each answer is read once, as its chunk finishes
                predictions += [decide(d, a, offsets) for d, a in zip(part, done)]
            if on_chunk is not None and not resumed:
                on_chunk(list(predictions))
    probs = [p.prob for p in predictions]
    per_feature = metrics.score(
        [p.gold for p in predictions],
        [p.pred for p in predictions],
        task.keys,
        probs if all(p is not None for p in probs) else None,
    )
    summary = metrics.summarize(per_feature, len(predictions))
    summary.update(backend_metrics(backend, answers, reference_s))
    summary.update({f"calibration/{k}": o for k, o in zip(task.keys, offsets or ())})
    return RunResult(
        predictions=predictions,
        per_feature=per_feature,
        metrics=summary,
        shot_ids=[s.id for s in shots],
        example_prompt=backend.render(requests[0]),
        example_texts=[s.text for s in (examples[documents[0].id] if examples is not None else shots)]
        + [documents[0].text],
        texts={d.id: d.text for d in documents},
        answer_kind=ANSWER_KINDS[type(answers[0])],
    )


# RunResult.answer_kind by the backend's kind of answer.
ANSWER_KINDS = {Generation: "answer", Scores: "answer_from_scores", Labels: "labels"}


def reset_peak_rss() -> None:
    """Start this process's peak resident memory count afresh (Linux), so each
    cell of a sweep reports its own peak; elsewhere the process's peak stands."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory since `reset_peak_rss` (or since the process began)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
    except (OSError, StopIteration, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backend_metrics(backend: Answerer, answers: Sequence[Answer], extra_s: float = 0.0) -> dict[str, float]:
    """Latency and throughput over the backend calls (and `extra_s` more:
    calibration's passes), with the backend's own split of that time where
    it keeps one (shared prefix, prefill, decode)."""
    stats = backend.stats
    wall = sum(a.latency_s for a in answers) + stats.get("prefix_s", 0.0) + extra_s
    tokens = sum(a.n_tokens for a in answers if isinstance(a, Generation))
    out = metrics.latency_summary([a.latency_s for a in answers], tokens, wall)
    for name in ("prefix_s", "prefill_s", "decode_s"):
        if name in stats:
            out[f"time/{name}"] = stats[name]
    if "truncated" in stats:
        out["data/truncated"] = float(stats["truncated"])
    if stats.get("prefill_s"):
        out["throughput/prompt_tokens_per_s"] = stats["prompt_tokens"] / stats["prefill_s"]
    if backend.peak_gpu_mem_mb:
        out["gpu/peak_mem_mb"] = backend.peak_gpu_mem_mb
    out["memory/peak_rss_mb"] = peak_rss_mb()
    return out
