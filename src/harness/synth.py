"""`harness-synth`: a synthetic, labelled example pool, made the self-instruct
way (as Alif-1.0-8B made its Urdu data): for each new example a label vector
is drawn (each feature on at its rate in the real pool, plus one feature no
kept example is positive for yet, while there is one), a generator model is shown a few real pool
transcripts as style seeds and asked for a new call in the dataset's
language that reports exactly the features that are on, and the label
vector becomes the example's gold. Texts that are empty, too short, in
another script, or near-duplicates (ROUGE-L against every kept example and
every seed shown) are dropped; optionally also those whose labels the model
itself, extracting, contradicts.

    harness-synth dataset=demo_fa synth.count=40
    harness prompt.pool=synthetic prompt.pool_file=synthetic/demo_fa.jsonl

Only pool documents are shown to the generator, never dev or test ones.
The file is written an example at a time; its `.state.json` holds the
attempts made, the drops by reason and which seeds each attempt was shown.
Rerunning with the same settings continues it: a crash keeps what was written."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Optional, Sequence

import hydra
from omegaconf import DictConfig

from .cli import CONF_DIR
from .config import Config, Pool, Selection, check_ranges, typed
from .errors import HarnessError, exit_on_user_error, run_hydra_app
from .plan import flatten
from .records import Document, Request

log = logging.getLogger("harness.synth")

# Letters of each language's script: a text whose letters are mostly elsewhere is dropped.
SCRIPTS = {
    "fa": r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]",
    "ur": r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]",
    "en": r"[A-Za-z]",
}
METHOD = 2  # raise when the label or seed plans change
# Self-instruct's per-example prompt variation: the request worded differently each time.
ASKS = (
    "Write a new call in the same style, in {language}.",
    "Now write another, different call to the same service, in {language}.",
    "Write one more realistic call transcript in {language}, with a different caller and situation.",
    "Write a new {language} call between the operator and a patient or a relative.",
)


class _Words:
    """ROUGE-L's tokens for any script: runs of letters and digits (the
    zero-width non-joiner inside Persian words included). rouge-score's own
    tokenizer keeps only a-z and 0-9, which leaves a Persian text empty."""

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return re.findall(r"[\w\u200c]+", text.lower())


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F-measure of two texts, on `_Words` tokens (rouge-score)."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Words()).score(a, b)["rougeL"].fmeasure


def script_share(text: str, language: str) -> float:
    """The share of a text's letters written in the language's script."""
    letters = [c for c in text if c.isalpha()]
    pattern = re.compile(SCRIPTS.get(language, r"\w"))
    return sum(bool(pattern.match(c)) for c in letters) / len(letters) if letters else 0.0


def rejection(
    text: str,
    kept: Sequence[str],
    shown: Sequence[str],
    language: str,
    *,
    min_chars: int,
    script: float,
    threshold: float,
) -> Optional[str]:
    """Why a generated text is dropped, or None to keep it."""
    if not text.strip():
        return "empty"
    if len(text.strip()) < min_chars:
        return "too_short"
    if script_share(text, language) < script:
        return "wrong_script"
    if any(rouge_l(text, seed) >= threshold for seed in shown):
        return "echoes_seed"
    if any(rouge_l(text, other) >= threshold for other in kept):
        return "near_duplicate"
    return None


def feature_rates(pool: Sequence[Document], keys: Sequence[str]) -> dict[str, float]:
    return {k: sum(d.labels[k] for d in pool) / len(pool) for k in keys}


def plan_labels(
    index: int, keys: Sequence[str], rates: Mapping[str, float], seed: int, force: Optional[str] = None
) -> dict[str, bool]:
    """Attempt `index`'s label vector: each feature on at its pool rate, and
    `force` on (a feature no kept example shows yet)."""
    rng = random.Random(f"{seed}/labels/{index}")
    labels = {k: rng.random() < rates[k] for k in keys}
    if force is not None:
        labels[force] = True
    return labels


def uncovered(keys: Sequence[str], rows: Sequence[Mapping[str, bool]]) -> list[str]:
    """The features no row is positive for, in key order."""
    return [k for k in keys if not any(r[k] for r in rows)]


def _attempt(doc_id: str) -> int:
    """The attempt number an example's id holds ("syn-00042" -> 42; numbers, not strings, past 99,999)."""
    return int(doc_id.removeprefix("syn-"))


def plan_seeds(index: int, pool: Sequence[Document], k: int, seed: int) -> list[Document]:
    """The real pool transcripts attempt `index` is shown."""
    return random.Random(f"{seed}/seeds/{index}").sample(sorted(pool, key=lambda d: d.id), min(k, len(pool)))


def generator_messages(
    labels: Mapping[str, bool], names: Mapping[str, str], seeds: Sequence[Document], language: str, ask: str
) -> tuple[dict[str, str], ...]:
    """The generator's prompt: the seeds, each headed by what its caller
    reports (their real labels), then the new call's header, which a base
    model continues and an instruction-tuned one answers."""

    def header(i: int, values: Mapping[str, bool]) -> str:
        on = [names[k] for k, v in values.items() if v]
        return f"Call {i} (the caller reports: {'; '.join(on) if on else 'none of the listed problems'}):"

    calls = "\n\n".join(f"{header(i + 1, d.labels)}\n{d.text}" for i, d in enumerate(seeds))
    return (
        {
            "role": "system",
            "content": "You write realistic transcripts of calls to a palliative care service. "
            "Write only the transcript, nothing before or after it.",
        },
        {
            "role": "user",
            "content": f"{ask.format(language=language)} The caller reports exactly the problems in "
            f"its heading, and no other of these: {'; '.join(names.values())}.\n\n"
            f"{calls}\n\n{header(len(seeds) + 1, labels)}",
        },
    )


def clean(text: str) -> str:
    """The transcript, without a fence, quotes or a "Call N:" label around it,
    and without a next call the generator went on to write."""
    text = re.sub(
        r"^(Call|Transcript)\s*\d*\s*(\([^)]*\))?\s*:\s*", "", text.strip().strip("`").strip(), flags=re.IGNORECASE
    )
    return re.split(r"\n\s*(?:Call|Transcript)\s*\d+\b", text)[0].strip().strip('"').strip()


def _method() -> str:
    """Names how examples are planned and asked for: a file continues only
    under the method it began with. METHOD counts changes to the plans; the
    digest, to the prompt's wording."""
    sample = generator_messages({"k": True}, {"k": "K"}, [Document(id="s", text="T", labels={"k": False})], "L", "")
    return f"{METHOD}/" + hashlib.sha256(json.dumps([sample, ASKS]).encode()).hexdigest()[:12]


def _written(out: Path) -> list[dict]:
    """The rows a file holds; a last line a crash cut short is dropped from it."""
    if not out.is_file():
        return []
    rows, good = [], 0
    with out.open("rb") as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except ValueError:
                break
            good += len(line)
    if good < out.stat().st_size:
        with out.open("r+b") as f:
            f.truncate(good)
    return rows


def _read_state(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_state(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # atomic: a crash leaves the old state or the new one


def _settings(conf: Config, cell) -> dict:
    """What decides the file's examples: a file continues only under the same."""
    s = conf.synth
    return {
        "dataset": conf.dataset.name,
        "dataset_digest": cell.dataset_digest,
        "generator": conf.model.name,
        "seed": conf.seed,
        "split_seed": conf.split.seed,
        "seeds_shown": s.seeds_shown,
        "rouge_l": s.rouge_l,
        "min_chars": s.min_chars,
        "script_share": s.script_share,
        "consistency": s.consistency,
        "max_new_tokens": conf.model.backend.get("max_new_tokens"),
        "method": _method(),
    }


def _plans(conf: Config, cell, batch: range, before: Sequence[Mapping[str, bool]]) -> list[tuple]:
    """(id, labels, seeds, messages) of each attempt in `batch`. Every
    feature gets positives: each attempt puts on one that no example kept
    before the batch (`before`: their labels) shows, after a crash too."""
    keys, rates = cell.task.keys, feature_rates(cell.pool, cell.task.keys)
    names = {f.key: f.names.get("en", f.key) for f in conf.features.entries}
    language_name = conf.translator.language_names.get(conf.dataset.language, conf.dataset.language)
    missing = uncovered(keys, before)
    plans = []
    for j, i in enumerate(batch):
        seeds = plan_seeds(i, cell.pool, conf.synth.seeds_shown, conf.seed)
        labels = plan_labels(i, keys, rates, conf.seed, missing[j % len(missing)] if missing else None)
        ask = ASKS[random.Random(f"{conf.seed}/ask/{i}").randrange(len(ASKS))]
        plans.append((f"syn-{i:05d}", labels, seeds, generator_messages(labels, names, seeds, language_name, ask)))
    return plans


def _rejection(conf: Config, cell, backend, doc: Document, seeds, earlier: Sequence[str]) -> Optional[str]:
    """Why a generated example is dropped (None: kept): the text filters, then
    optionally the model's own extraction (synth.consistency)."""
    s = conf.synth
    reason = rejection(
        doc.text,
        earlier,
        [d.text for d in seeds],
        conf.dataset.language,
        min_chars=s.min_chars,
        script=s.script_share,
        threshold=s.rouge_l,
    )
    if reason is None and s.consistency:
        reason = _contradicted(cell.task, backend, doc)
    return reason


def synthesize(conf: Config, plain: dict) -> dict:
    """Write (or continue) the synthetic pool file; returns its state."""
    from . import data
    from .backends import load_backend, writes_text
    from .cell import prepare
    from .plan import backend_class

    s = conf.synth
    if conf.prompt.pool is not Pool.real:
        raise HarnessError("harness-synth shows the generator the dataset's real pool: prompt.pool=real")
    check_ranges(conf)
    writer = backend_class(conf.model.backend)
    if not writes_text(writer):
        raise HarnessError(f"model={conf.model.name}: {writer.__name__} writes no text, so it cannot write examples")
    cell = prepare(replace(conf, prompt=replace(conf.prompt, selection=Selection.random, shots=0)))
    keys, columns = cell.task.keys, conf.dataset.columns
    assert all(cell.split_of[d.id] == "pool" for d in cell.pool)  # seeds never come from dev or test
    label_columns = data.label_columns_for(keys, columns.labels)

    out = Path(s.out)
    state_path = out.with_name(out.name + ".state.json")
    settings = _settings(conf, cell)
    state = _read_state(state_path)
    if state and state["settings"] != settings:
        changed = sorted(k for k in settings if state["settings"].get(k) != settings[k])
        raise HarnessError(
            f"{out} was written with other settings ({', '.join(changed)}); remove it and "
            f"{state_path.name}, or choose another synth.out"
        )
    kept = {r[columns.id]: r for r in _written(out)}
    state = state or {"settings": settings, "attempts": 0, "dropped": {}, "shown": {}}
    dropped = Counter(state["dropped"])
    limit = s.max_attempts or 5 * s.count
    backend = load_backend(conf.model.backend)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        while len(kept) < s.count and state["attempts"] < limit:
            batch = range(state["attempts"], min(state["attempts"] + s.batch, limit))
            before = [{k: r[label_columns[k]] for k in keys} for i, r in kept.items() if _attempt(i) < batch[0]]
            plans = _plans(conf, cell, batch, before)
            generations = backend.generate(
                [Request(doc_id=i, messages=m, text="", language="en") for i, _, _, m in plans]
            )
            for (doc_id, labels, seeds, _), g in zip(plans, generations):
                state["attempts"] += 1
                state["shown"][doc_id] = [d.id for d in seeds]
                if doc_id in kept:  # written before a crash, its state not yet
                    continue
                doc = Document(id=doc_id, text=clean(g.text), labels=labels)
                earlier = [r[columns.text] for i, r in kept.items() if i < doc_id]  # as the first time, after a crash
                reason = _rejection(conf, cell, backend, doc, seeds, earlier)
                if reason is not None:
                    dropped[reason] += 1
                    continue
                row = {columns.id: doc_id, columns.text: doc.text, **{label_columns[k]: labels[k] for k in keys}}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
                kept[doc_id] = row
                if len(kept) >= s.count:
                    break
            state["dropped"] = dict(dropped)
            _write_state(state_path, state)
            log.info(
                "%d of %d examples kept after %d attempts (dropped: %s)",
                len(kept),
                s.count,
                state["attempts"],
                ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) or "none",
            )
    _log(conf, plain, settings, state, len(kept), out)
    return state


def _log(conf: Config, plain: dict, settings: dict, state: dict, kept: int, out: Path) -> None:
    """The synth run in MLflow (settings, counts, the file); a warning where too few were kept."""
    from . import tracking

    t, s = conf.tracking, conf.synth
    metrics = {
        "synth/kept": kept,
        "synth/attempts": state["attempts"],
        **{f"synth/dropped/{k}": v for k, v in state["dropped"].items()},
    }
    tracking.log_synth_run(
        uri=t.uri,
        experiment=t.experiment,
        artifact_location=t.artifact_location,
        params={**flatten({"synth": plain["synth"]}), **settings},
        metrics=metrics,
        pool_file=out,
        text_column=conf.dataset.columns.text,
        log_text=t.log_text,
    )
    if kept < s.count:
        log.warning(
            "only %d of %d examples kept after %d attempts (synth.max_attempts); the file holds them",
            kept,
            s.count,
            state["attempts"],
        )


def _contradicted(task, backend, doc: Document) -> Optional[str]:
    """ "contradicted" where the model, extracting from the text as a run does,
    gives any feature a value other than the label the text was written for."""
    from . import pipeline

    answer = pipeline.answering(task, backend)(pipeline.build_requests(task, [], [doc]))[0]
    pred = pipeline.to_prediction(task, doc, "pool", answer).pred
    return "contradicted" if any(v is not None and v != doc.labels[k] for k, v in pred.items()) else None


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="synth")
def _app(cfg: DictConfig) -> None:
    exit_on_user_error("harness-synth", lambda: synthesize(*typed(cfg)))


def main() -> None:
    run_hydra_app("harness-synth", _app, sys.argv[1:])


if __name__ == "__main__":
    main()
