"""A grid cell from the typed config: the task, the documents, the split,
the examples and the route. Shared by `harness`, `harness-tune` and the
benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from . import data, protocol, splits
from .backends import Answerer
from .config import (
    AnswerFormat,
    Calibration,
    Config,
    Evaluate,
    FeaturesConf,
    KnnOrder,
    Mode,
    Parser,
    Pool,
    PromptConf,
    PromptLanguage,
    Selection,
)
from .errors import HarnessError
from .prompts import pick_language
from .records import Cell, Document, Task
from .routes import Route, Translator, build_route, route_class


def _feature_names(features: FeaturesConf, language: str) -> list[str]:
    missing = [f.key for f in features.entries if language not in f.names]
    if missing:
        raise HarnessError(f"features: no {language!r} name for {', '.join(missing)} (features.entries[].names)")
    return [f.names[language] for f in features.entries]


def _template_names(features: FeaturesConf, names: list[str], language: str) -> list[str]:
    """The fields as the empty template spells them: features.template_names where given, else the names."""
    keys = [f.key for f in features.entries]
    unknown = sorted(set(features.template_names) - set(keys))
    if unknown:
        raise HarnessError(
            f"features.template_names names {', '.join(unknown)}, which the feature set does not "
            f"have (features: {', '.join(keys)})"
        )
    return [features.template_names.get(k, {}).get(language, n) for k, n in zip(keys, names)]


def task_of(conf: Config) -> Task:
    """What to extract and how to ask."""
    prompt = conf.prompt
    if (prompt.parser is Parser.json) != (prompt.format is AnswerFormat.json):
        raise HarnessError(
            f"prompt.parser={prompt.parser.value} cannot read prompt.format={prompt.format.value} "
            "answers (json answers need parser json; template answers need template or study)"
        )
    read_language = conf.dataset.language if route_class(conf.route._target_).reads_source else "en"
    prompt_language = read_language if conf.route.prompt_language is PromptLanguage.source else "en"
    names = _feature_names(conf.features, prompt_language)
    return Task(
        keys=tuple(f.key for f in conf.features.entries),
        names=tuple(names),
        template_names=tuple(_template_names(conf.features, names, prompt_language)),
        fmt=prompt.format,
        parser=prompt.parser,
        style=prompt.template_style,
        mode=prompt.mode,
        language=read_language,
        prompt_language=prompt_language,
        system=pick_language(prompt.system, prompt_language, f"prompt={prompt.name} system"),
        lead_in=pick_language(prompt.lead_in, prompt_language, f"prompt={prompt.name} lead_in"),
        threshold=0.5 if _calibrates(conf) else float(prompt.threshold),
        calibration=_calibration(conf),
    )


def _tuned_ids(path: str | None) -> list[str]:
    if not path or not Path(path).is_file():
        raise HarnessError(
            f"prompt.selection=tuned needs prompt.selection_file naming a file harness-tune wrote (got {path!r})"
        )
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["ids"]
    except (ValueError, KeyError, TypeError):
        raise HarnessError(f'{path}: not a selection file (a JSON object with an "ids" list)') from None


def _marked(documents: list[Document]) -> list[Document]:
    marked = [d for d in documents if d.is_example]
    if not marked:
        raise HarnessError(
            "prompt.selection=fixed needs prompt.shot_ids=[...] or a dataset column marking the "
            "examples (dataset.columns.is_example), with at least one marked row"
        )
    return marked


def select_shots(
    documents: list[Document],
    pool: list[Document],
    split_of: dict[str, str],
    prompt: PromptConf,
    keys: tuple[str, ...],
    seed: int,
) -> list[Document]:
    """The examples, from `pool` (fixed and tuned ones by id, checked to be
    pool documents); none for knn, whose examples are each document's own."""
    if prompt.selection is Selection.knn:
        if not 1 <= prompt.shots <= len(pool) - 1:
            raise HarnessError(
                f"prompt.selection=knn needs 1 <= prompt.shots < the pool's {len(pool)} documents "
                f"(got prompt.shots={prompt.shots})"
            )
        return []
    if prompt.selection is Selection.random:
        return splits.random_shots(pool, prompt.shots, seed)
    if prompt.selection is Selection.balanced:
        return splits.balanced_shots(pool, prompt.shots, keys, seed)
    if prompt.selection is Selection.fixed and not prompt.shot_ids:
        return _marked(documents)
    if prompt.selection is Selection.fixed:
        return splits.fixed_shots(documents + pool, split_of, prompt.shot_ids, "prompt.shot_ids")
    path = prompt.selection_file
    return splits.fixed_shots(documents + pool, split_of, _tuned_ids(path), str(path))


def synthetic_pool(conf: Config, label_columns: dict[str, str], real_ids: set[str]) -> data.Loaded:
    """The examples harness-synth wrote (prompt.pool=synthetic), checked."""
    path, columns = conf.prompt.pool_file, conf.dataset.columns
    if not path or not Path(path).is_file():
        raise HarnessError(
            f"prompt.pool=synthetic needs prompt.pool_file naming a file harness-synth wrote (got {path!r})"
        )
    if route_class(conf.route._target_).needs_reference:
        raise HarnessError(
            f"route={conf.route.name} reads reference translations, which synthetic examples do "
            "not have (prompt.pool=synthetic works with route=native or translate)"
        )
    loaded = data.load_documents(path, id_column=columns.id, text_column=columns.text, label_columns=label_columns)
    clash = sorted(real_ids & {d.id for d in loaded.documents})
    if clash:
        raise HarnessError(f"{path}: id {clash[0]!r} is also a document of {conf.dataset.path}")
    return loaded


def prepare(conf: Config, reads_prompt: bool = True) -> Cell:
    """Load and validate the data, split it and draw the examples: every
    check that bad input can fail, before any model or run exists. A backend
    that reads no prompt (a baseline) gets no examples and no calibration."""
    task = task_of(conf)
    ds, split = conf.dataset, conf.split
    columns, needs_reference = ds.columns, route_class(conf.route._target_).needs_reference
    if needs_reference and not columns.reference:
        raise HarnessError(f"route={conf.route.name} needs dataset.columns.reference (dataset={ds.name} has none)")
    label_columns = data.label_columns_for(task.keys, columns.labels)
    loaded = data.load_documents(
        ds.path,
        id_column=columns.id,
        text_column=columns.text,
        reference_column=columns.reference,
        label_columns=label_columns,
        example_column=columns.is_example,
        empty_text=ds.empty_text,
    )
    documents = loaded.documents
    lacking = [d.id for d in documents if d.reference is None] if needs_reference else []
    if lacking:
        raise HarnessError(
            f"route={conf.route.name}: document {lacking[0]} has no reference translation in "
            f"{ds.path} ({len(lacking)} documents lack one; dataset.columns.reference)"
        )
    split_of = splits.split_ids(
        [d.id for d in documents],
        pool=split.pool,
        dev=split.dev,
        seed=split.seed,
        examples=[d.id for d in documents if d.is_example],
    )
    pool_digest = None
    if conf.prompt.pool is Pool.synthetic:  # the real pool's documents are spare: evaluated with nonpool or all
        synthetic = synthetic_pool(conf, label_columns, set(split_of))
        pool, pool_digest = synthetic.documents, synthetic.digest
        split_of = {**{i: "spare" if s == "pool" else s for i, s in split_of.items()}, **{d.id: "pool" for d in pool}}
    else:
        pool = [d for d in documents if split_of[d.id] == "pool"]
    evaluated = splits.evaluated_split(documents, split_of, split.evaluate)[: ds.limit]
    if not evaluated:
        raise HarnessError(
            f"no documents to evaluate: split.evaluate={split.evaluate.value} holds none of the "
            f"{len(documents)} documents of {ds.path} (split.pool={split.pool}, split.dev={split.dev})"
        )
    shots = select_shots(documents, pool, split_of, conf.prompt, task.keys, conf.seed) if reads_prompt else []
    dev = [d for d in documents if split_of[d.id] == "dev"]
    calibration = dev[: ds.limit] if conf.prompt.threshold == "dev" and reads_prompt else []
    if conf.prompt.threshold == "dev" and reads_prompt and not calibration:
        raise HarnessError(
            f"prompt.threshold=dev calibrates on the dev split, which holds no document (split.dev={split.dev})"
        )
    return Cell(
        task=task,
        documents=documents,
        split_of=split_of,
        evaluated=evaluated,
        shots=shots,
        language=ds.language,
        scores_examples=split.evaluate is Evaluate.all and conf.prompt.pool is Pool.real,
        skipped_empty=loaded.skipped,
        calibration=calibration,
        pool=pool,
        dataset_digest=loaded.digest,
        pool_digest=pool_digest,
        neighbours=conf.prompt.shots if conf.prompt.selection is Selection.knn and reads_prompt else 0,
        nearest_first=_knn_order(conf) is KnnOrder.nearest_first,
        calibration_samples=conf.prompt.calibration_samples,
        seed=conf.seed,
    )


def _calibrates(conf: Config) -> bool:
    """Whether thresholds are calibrated on dev (prompt.threshold=dev); checks the setting."""
    threshold = conf.prompt.threshold
    if threshold == "dev":
        if conf.prompt.mode is not Mode.score:
            raise HarnessError("prompt.threshold=dev calibrates P(true): it needs prompt.mode=score")
        if conf.split.evaluate is not Evaluate.test:
            raise HarnessError(
                f"prompt.threshold=dev calibrates on the dev split, so the run must evaluate "
                f"another: split.evaluate=test (got {conf.split.evaluate.value})"
            )
        return True
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise HarnessError(f"prompt.threshold must be a number between 0 and 1, or dev (got {threshold!r})")
    return False


def _knn_order(conf: Config) -> KnnOrder:
    """prompt.knn_order, checked: it orders knn examples, so it needs selection=knn."""
    order = conf.prompt.knn_order
    if order is not KnnOrder.nearest_last and conf.prompt.selection is not Selection.knn:
        raise HarnessError(
            f"prompt.knn_order={order.value} orders the examples knn chooses: it needs prompt.selection=knn "
            f"(got {conf.prompt.selection.value})"
        )
    return order


def _calibration(conf: Config) -> Calibration:
    """prompt.calibration, checked: it moves P(true), so it needs score mode."""
    method = conf.prompt.calibration
    if method is not Calibration.none and conf.prompt.mode is not Mode.score:
        raise HarnessError(f"prompt.calibration={method.value} moves P(true): it needs prompt.mode=score")
    return method


def uses_translator(conf: Config) -> bool:
    """Whether the cell's route translates (else the translator group is not part of the cell)."""
    return route_class(conf.route._target_).needs_translator


def route_of(conf: Config, translator_backend: Optional[Answerer] = None) -> Route:
    """The cell's route; a translating one reads through `translator_backend`."""
    tr = conf.translator
    translator = (
        Translator(
            name=tr.model.name,
            backend=tr.model.backend,
            system=tr.system,
            language_names=tr.language_names,
            cache=tr.cache,
        )
        if uses_translator(conf)
        else None
    )
    return build_route(conf.route._target_, translator, translator_backend)


def components(conf: Config) -> tuple[Answerer, Route]:
    """The cell's backend and route, built from the config (the translator's
    backend too, where the route translates); the one place a cell's parts
    are built, so every entry point injects the same ones."""
    from .backends import load_backend

    backend = load_backend(conf.model.backend)
    translator = load_backend(conf.translator.model.backend) if uses_translator(conf) else None
    return backend, route_of(conf, translator)


def protocol_settings(conf: Config, task: Task, shots: int, generation_config: bool) -> protocol.Settings:
    """The run's choice for each element of the reference protocol.
    `generation_config`: the backend decodes greedily with the model's
    generation config applied (as the study's pipeline did)."""
    return protocol.Settings(
        parser=task.parser,
        fmt=task.fmt,
        style=task.style,
        names=task.names,
        template_names=task.template_names,
        prompt_language=task.prompt_language,
        mode=task.mode,
        generation_config=generation_config,
        max_new_tokens=conf.model.backend.get("max_new_tokens"),
        evaluate=conf.split.evaluate,
        limit=conf.dataset.limit,
        selection=conf.prompt.selection,
        shots=shots,
        translated=uses_translator(conf),
        threshold=conf.prompt.threshold,
        calibration=task.calibration,
    )
