"""Config schema. YAML under conf/ holds the values; these dataclasses give
them types, so a misspelt key or a wrong type fails at composition with
Hydra's own message. The entry points turn the composed config into these
dataclasses (`typed`) and pass them down; nothing below sees a DictConfig."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, is_dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from .errors import HarnessError

SEED_MAX = 2**32 - 1  # numpy's and torch's seeds


def between(
    default: Any,
    low: Optional[float] = None,
    high: Optional[float] = None,
    *,
    above: Optional[float] = None,
    below: Optional[float] = None,
    cell: bool = True,
) -> Any:
    """A schema field with its range (checked by `check_ranges` before a run
    exists) and whether it is part of a cell's identity (`harness.identity`)."""
    return field(default=default, metadata={"range": (low, high, above, below), "cell": cell})


def outside_cell(default: Any = None, factory: Any = None) -> Any:
    """A setting that changes how a run goes or where it is logged, never its predictions."""
    if factory is not None:
        return field(default_factory=factory, metadata={"cell": False})
    return field(default=default, metadata={"cell": False})


class AnswerFormat(str, Enum):
    template = "template"  # `Field: True,` one field a line (prompt.template_style lays it out)
    json = "json"  # one JSON object, field name -> true/false


class Parser(str, Enum):
    template = "template"  # strict: exactly True/False after `Field:`, up to a comma or brace; else missing
    study = "study"  # the reference study's substring rule, its quirks included (parsing.parse_study)
    json = "json"  # the first JSON object in the answer (prompt.format=json)


class TemplateStyle(str, Enum):
    braces = "braces"  # empty template `{A: ,\nB: }`, example answers `{A: True,\nB: False}`
    study = "study"  # the reference study's: `{A: ,\nB: ,}` and `A: True,\nB: False, ` (no braces)


class Mode(str, Enum):
    generate = "generate"  # the model writes its answer (the study's way)
    score = "score"  # P(true) vs P(false) read at each field of the answer template


class EmptyText(str, Enum):
    error = "error"  # an empty or whitespace-only transcript stops the run, naming its row
    skip = "skip"  # such rows are left out and counted (data/skipped_empty)


class LogText(str, Enum):
    full = "full"  # transcripts, translations and answers as they are
    hashed = "hashed"  # each text replaced by its sha256 prefix
    none = "none"  # no text at all: ids, labels and metrics only


class Selection(str, Enum):
    random = "random"  # seeded random draw from the pool, as the study did
    balanced = "balanced"  # examples that together cover each feature's positives
    fixed = "fixed"  # the ids in prompt.shot_ids
    tuned = "tuned"  # the ids harness-tune wrote to prompt.selection_file
    knn = "knn"  # for each document, the prompt.shots pool examples most like it (harness.neighbours)


class KnnOrder(str, Enum):
    """Where prompt.selection=knn puts the most similar example."""

    nearest_last = "nearest_last"  # next to the document, as KATE (Liu et al. 2021) places it
    nearest_first = "nearest_first"  # right after the system turn


class Calibration(str, Enum):
    none = "none"  # P(true) as the model gives it: the study's rule
    contextual = "contextual"  # offsets from content-free transcripts (harness.calibration)
    domain = "domain"  # offsets from transcripts of random pool words
    batch = "batch"  # offsets from the evaluated documents' mean log-odds


class Strategy(str, Enum):
    """How a harness-tune trial chooses its examples."""

    ids = "ids"  # one set of k pool documents, searched document by document
    balanced = "balanced"  # a balanced set of k, its seed searched
    knn = "knn"  # each document's k most similar pool documents (prompt.selection=knn)


class Evaluate(str, Enum):
    test = "test"  # the held-out test split
    dev = "dev"
    nonpool = "nonpool"  # every document that is not in the shot pool (with a synthetic pool: the real pool's too)
    all = "all"  # every document, the examples included (the reference study scored its examples too)


class Pool(str, Enum):
    real = "real"  # examples come from the dataset's pool split
    synthetic = "synthetic"  # from prompt.pool_file, written by harness-synth; dev and test stay real


class Objective(str, Enum):
    macro_f1 = "macro_f1"  # median over features on dev
    mcc = "mcc"


class PromptLanguage(str, Enum):
    source = "source"  # the language of the text the model reads
    en = "en"


@dataclass
class FeatureConf:
    key: str = MISSING
    names: Dict[str, str] = MISSING  # language -> field name shown in prompts
    definition: str = ""
    keywords: Dict[str, List[str]] = field(default_factory=dict)


@dataclass
class FeaturesConf:
    name: str = MISSING
    entries: List[FeatureConf] = MISSING
    # feature key -> {language: name}: how the empty template in the system turn
    # spells a field where that differs from `names` (the reference study's
    # template spelled one field differently from its examples and parser).
    template_names: Dict[str, Dict[str, str]] = field(default_factory=dict)


@dataclass
class ColumnsConf:
    id: str = "id"
    text: str = "text"
    reference: Optional[str] = None
    # A boolean column marking the documents to use as examples (prompt.selection=fixed);
    # marked documents always join the example pool.
    is_example: Optional[str] = None
    # feature key -> column; a feature not listed here is read from the column named as its key
    labels: Dict[str, str] = field(default_factory=dict)


@dataclass
class DatasetConf:
    name: str = MISSING
    path: str = MISSING
    language: str = MISSING  # ISO 639-1 code of the text column: fa, ur, en
    columns: ColumnsConf = field(default_factory=ColumnsConf)
    limit: Optional[int] = between(None, 1)  # evaluate only the first N documents of the evaluated split
    empty_text: EmptyText = EmptyText.error


@dataclass
class SplitConf:
    seed: int = between(MISSING, 0, SEED_MAX)  # separate from `seed`, so sweeping seeds keeps the test set fixed
    pool: float = between(MISSING, 0, below=1)  # fraction of documents that may serve as examples
    dev: float = between(MISSING, 0, below=1)  # fraction for tuning; the rest is test
    evaluate: Evaluate = MISSING


@dataclass
class PromptConf:
    name: str = MISSING
    format: AnswerFormat = AnswerFormat.template
    parser: Parser = Parser.template  # how a generated answer is read (json needs format=json)
    template_style: TemplateStyle = TemplateStyle.braces  # format=template: how the answer is laid out
    mode: Mode = Mode.generate
    shots: int = between(3, 0)  # k (fixed and tuned selections bring their own)
    selection: Selection = Selection.random
    knn_order: KnnOrder = KnnOrder.nearest_last  # selection=knn: the examples' order
    # Runs of the cell over this many example draws (random, balanced): seeds
    # seed, seed+1, ...; the report folds them into one row. How many cells, not what one is.
    draws: int = between(1, 1)
    shot_ids: List[str] = field(default_factory=list)  # selection=fixed (else dataset.columns.is_example)
    selection_file: Optional[str] = None  # selection=tuned: written by harness-tune
    pool: Pool = Pool.real  # where examples come from
    pool_file: Optional[str] = None  # pool=synthetic: the JSONL file harness-synth wrote
    # Score mode: P(true) above which a field is true. 0.5 is the study's rule
    # (the likelier word); `dev`: per feature, the threshold that maximises its
    # macro-F1 on the dev split (scored too, up to dataset.limit documents).
    threshold: Any = 0.5
    # Score mode: move each field's P(true) before the threshold applies (harness.calibration).
    calibration: Calibration = Calibration.none
    calibration_samples: int = between(20, 1)  # calibration=domain: random-word transcripts
    # language -> text. `system` holds `{template}`, `lead_in` holds `{text}`.
    system: Dict[str, str] = MISSING
    lead_in: Dict[str, str] = MISSING


@dataclass
class RouteConf:
    name: str = MISSING
    _target_: str = MISSING  # the route class (harness.routes.Route): what text the model reads
    prompt_language: PromptLanguage = PromptLanguage.source


@dataclass
class ModelConf:
    name: str = MISSING
    family: str = MISSING
    params_b: float = MISSING  # size in billions of parameters
    # `_target_` names the backend class; the other keys are its constructor's arguments.
    backend: Dict[str, Any] = MISSING


@dataclass
class TranslatorConf:
    model: ModelConf = MISSING  # any model config; its backend translates
    system: str = MISSING  # translation instruction; {language} is the source language's name
    language_names: Dict[str, str] = field(default_factory=dict)  # ISO code -> English name
    cache: str = "mlruns/translations.sqlite"  # shared by every run, job and process


@dataclass
class TrackingConf:
    uri: str = MISSING
    experiment: str = MISSING
    # Seconds a tracking server may take to answer before the run stops (http(s) URIs).
    timeout_s: float = between(MISSING, low=1)
    # Where a new experiment keeps its artifacts (ignored for existing ones).
    artifact_location: Optional[str] = MISSING
    tags: Dict[str, str] = field(default_factory=dict)  # extra tags on every run
    # What text reaches MLflow (predictions.jsonl, translations.jsonl, prompt.txt).
    log_text: LogText = MISSING
    checkpoints: str = MISSING  # finished chunks of running cells, for resume
    # MLflow system metrics (CPU, memory; GPU utilisation with nvidia-ml-py installed) every 10 s.
    system_metrics: bool = MISSING
    # One MLflow trace per document (inputs, outputs, gold, fields right): MLflow's Traces views.
    traces: bool = MISSING


@dataclass
class TuneConf:
    study: str = MISSING  # Optuna study name; rerunning it resumes
    n_trials: int = between(MISSING, 1)  # trials in the study, all workers together
    timeout: Optional[float] = between(MISSING, 1)  # seconds for this worker
    objective: Objective = MISSING  # median over features on dev
    k_range: Optional[List[int]] = MISSING  # [min, max]: search k too; null: k = prompt.shots
    chunk_size: int = between(MISSING, 1)  # dev documents per pruning step
    dev_limit: Optional[int] = between(MISSING, 1)  # score trials on the first N dev documents
    storage: str = MISSING  # an Optuna RDB URL
    selection_dir: str = MISSING  # where the best selection is written
    startup_trials: int = between(MISSING, 0)  # trials before the pruner may stop one
    strategies: List[Strategy] = MISSING  # what trials choose among (with k in k_range)


@dataclass
class SynthConf:
    out: str = MISSING  # the synthetic pool file (JSONL, the dataset's columns); rerunning continues it
    count: int = between(MISSING, 1)  # examples to keep
    max_attempts: Optional[int] = between(MISSING, 1)  # stop after this many generations (default: 5 x count)
    seeds_shown: int = between(MISSING, 0)  # real pool transcripts shown to the generator as style seeds, per example
    # Drop a text whose ROUGE-L F with any kept or shown text reaches this.
    rouge_l: float = between(MISSING, high=1, above=0)
    min_chars: int = between(MISSING, 0)  # drop shorter texts
    # Drop a text with fewer of its letters in the dataset language's script.
    script_share: float = between(MISSING, 0, 1)
    consistency: bool = MISSING  # drop a text whose labels the model itself, extracting, contradicts
    batch: int = between(MISSING, 1)  # generations per backend call; the file and its state are written after each


@dataclass
class Config:
    model: ModelConf = MISSING
    route: RouteConf = MISSING
    prompt: PromptConf = MISSING
    dataset: DatasetConf = MISSING
    features: FeaturesConf = MISSING
    translator: TranslatorConf = MISSING  # used by route=translate only
    split: SplitConf = field(default_factory=SplitConf)
    tracking: TrackingConf = outside_cell(factory=TrackingConf)
    seed: int = between(MISSING, 0, SEED_MAX)  # shot draw and decoding
    # documents per backend call; a checkpoint is written after each
    chunk_size: int = between(MISSING, 1, cell=False)
    resume: bool = outside_cell(MISSING)  # skip cells already finished in the experiment; continue interrupted ones
    # Let Hugging Face fetch missing models (off: nothing leaves the machine).
    allow_downloads: bool = outside_cell(MISSING)
    tune: Optional[TuneConf] = outside_cell(None)  # harness-tune only (conf/tune.yaml)
    synth: Optional[SynthConf] = outside_cell(None)  # harness-synth only (conf/synth.yaml)


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def register() -> None:
    """The schema; `${project_root:}` so shipped configs can name shipped
    files wherever the command runs; `${file_stem:path}`."""
    ConfigStore.instance().store(name="harness_schema", node=Config)
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)
    # A dataset is named after its file unless dataset.name says otherwise, so a
    # run on dataset.path=calls.jsonl is not logged under the demo's name.
    OmegaConf.register_new_resolver("file_stem", lambda path: Path(str(path)).stem, replace=True)


def typed(cfg: Any) -> tuple[Config, dict[str, Any]]:
    """The composed config as the schema's dataclasses and Enums, and as plain
    values (params, config hash). Backend arguments stay plain values in both:
    they are a backend's constructor arguments."""
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    conf = OmegaConf.to_object(cfg)
    conf.model.backend = plain["model"]["backend"]
    conf.translator.model.backend = plain["translator"]["model"]["backend"]
    return conf, plain


def with_values(conf: Config, plain: Mapping[str, Any], changes: Mapping[str, Any]) -> tuple[Config, dict[str, Any]]:
    """`conf` and its plain values with the settings `changes` names by dotted
    key ("split.evaluate": Evaluate.test) changed in both, as `typed` would
    have given them: how an entry point derives one cell from another."""
    plain = copy.deepcopy(dict(plain))
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = plain
        for name in parents:
            node = node[name]
        node[last] = value.value if isinstance(value, Enum) else copy.deepcopy(value)
        conf = _replaced(conf, key.split("."), value)
    return conf, plain


def _replaced(node: Any, path: list[str], value: Any) -> Any:
    head, *rest = path
    return replace(node, **{head: _replaced(getattr(node, head), rest, value) if rest else value})


def class_named(target: Any, base: type, key: str, example: str, kind: str = "") -> type:
    """The class a `_target_` setting names, a subclass of `base` (`kind` in
    the error, else base's name), or one clear error naming `key`."""
    from hydra.utils import get_class

    try:
        cls = get_class(str(target))
    except Exception:  # hydra raises several types for a bad path
        raise HarnessError(f"{key}={target} cannot be imported (a class path such as {example})") from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise HarnessError(f"{key}={target}: not a {kind or f'{base.__module__}.{base.__qualname__}'}")
    return cls


def check_ranges(node: Any, prefix: str = "") -> None:
    """Every numeric setting within the range its schema field declares, and
    the settings that must be non-empty so: one line naming the key, before a run exists."""
    for f in fields(node):
        value, key = getattr(node, f.name), f"{prefix}{f.name}"
        if is_dataclass(value):
            check_ranges(value, f"{key}.")
            continue
        low, high, above, below = f.metadata.get("range", (None,) * 4)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        bounds = [
            (low, ">=", value >= (low or 0)),
            (high, "<=", value <= (high or 0)),
            (above, ">", value > (above or 0)),
            (below, "<", value < (below or 0)),
        ]
        if not all(ok for bound, _, ok in bounds if bound is not None):
            bounds = [f"{sign} {bound}" for bound, sign, _ in bounds if bound is not None]
            raise HarnessError(f"{key}={value} is out of range: it must be {' and '.join(bounds)}")
    if isinstance(node, TrackingConf) and not node.experiment.strip():
        raise HarnessError("tracking.experiment is empty: name the experiment the runs go to")
