"""The protocol tag tells the truth: composed from the real configs, the
reference study's experiment departs from the study in nothing, the default
lists where it departs, and each element flips its own departure alone."""

import json

import pytest
import yaml

from harness import protocol
from harness.cell import protocol_settings, task_of

from .conftest import CONF, composed

STUDY = ["+experiment=reference_study"]


def _settings(*overrides: str, generation_config: bool = True) -> protocol.Settings:
    conf, _ = composed(*overrides)
    return protocol_settings(conf, task_of(conf), conf.prompt.shots, generation_config)


def test_the_study_experiment_departs_in_nothing():
    s = _settings(*STUDY)
    assert protocol.departures(s) == []
    assert protocol.protocol_name(s) == "reference"
    assert protocol.unverifiable(s) == ["examples", "prompt_wording", "translation"]


def test_the_default_run_lists_its_departures():
    s = _settings()
    assert protocol.departures(s) == ["answer_format", "field_names", "parser", "scored_set"]
    assert protocol.protocol_name(s) == "harness"
    assert protocol.unverifiable(s) == ["examples", "prompt_wording"]


@pytest.mark.parametrize(
    "overrides, departs",
    [
        (["prompt.parser=template"], ["parser"]),
        (["prompt.template_style=braces"], ["answer_format"]),
        (["prompt=json"], ["answer_format", "parser"]),
        (["~features.template_names.doctor_visit"], ["field_names"]),
        (["prompt.mode=score"], ["decoding"]),
        (["model.backend.max_new_tokens=256"], ["max_new_tokens"]),
        (["split.evaluate=nonpool"], ["scored_set"]),
        (["dataset.limit=10"], ["scored_set"]),
        (["prompt.selection=balanced"], ["selection"]),
        (["prompt.selection=fixed", "prompt.shot_ids=[a,b,c]"], []),  # a published set of examples
        (["prompt.shots=2"], ["shots"]),
        (["route=native", "route.prompt_language=source"], []),  # Persian prompt: the study's Persian names
        (["dataset=demo_ur", "route=native", "route.prompt_language=source"], ["field_names"]),  # no Urdu in the study
        (["model=keyword-baseline"], ["decoding", "max_new_tokens"]),
    ],
)
def test_each_element_departs_alone(overrides, departs):
    generation_config = "model=keyword-baseline" not in overrides
    if overrides[0] == "prompt=json":  # the json prompt file sets its own parser; the experiment's must yield
        overrides = [*overrides, "prompt.parser=json"]
    s = _settings(*STUDY, *overrides, generation_config=generation_config)
    assert protocol.departures(s) == departs
    assert protocol.protocol_name(s) == ("reference" if not departs else "harness")


def test_a_backend_that_ignores_the_generation_config_departs_in_decoding():
    assert protocol.departures(_settings(*STUDY, generation_config=False)) == ["decoding"]


def test_the_feature_file_holds_the_studys_field_names():
    entries = yaml.safe_load((CONF / "features" / "palliative13.yaml").read_text(encoding="utf-8"))["entries"]
    for language in ("en", "fa"):
        assert tuple(e["names"][language] for e in entries) == protocol.STUDY_NAMES[language]


def test_marked_examples_are_the_fixed_set(tmp_path, demo_rows):
    """A published example set, marked in the dataset, is the one the run uses."""
    from harness.cell import prepare

    marked = {demo_rows[5]["id"], demo_rows[77]["id"], demo_rows[300]["id"]}
    path = tmp_path / "marked.jsonl"
    path.write_text(
        "".join(json.dumps({**r, "example": r["id"] in marked}, ensure_ascii=False) + "\n" for r in demo_rows),
        encoding="utf-8",
    )
    conf, _ = composed(*STUDY, f"dataset.path={path}", "dataset.columns.is_example=example", "prompt.selection=fixed")
    cell = prepare(conf)
    assert {d.id for d in cell.shots} == marked
    assert all(cell.split_of[i] == "pool" for i in marked)
    assert len(cell.evaluated) == len(demo_rows)  # split.evaluate=all: the examples are scored too
