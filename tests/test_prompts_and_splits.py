import re

import pytest

from harness.errors import HarnessError
from harness.prompts import (
    answer_regex,
    build_messages,
    empty_template,
    filled_template,
    score_template,
    template_draft,
)
from harness.protocol import STUDY_NAMES, STUDY_TEMPLATE_NAMES
from harness.records import Document
from harness.splits import evaluated_split, random_shots, split_ids


def test_braces_layout():
    assert empty_template(["A", "B"], "template") == "{A: ,\nB: }"
    assert filled_template(["A", "B"], [True, False], "template") == "{A: True,\nB: False}"


# The reference study's English template and an example answer, as its code
# builds them (facts: braces and a trailing comma in the empty template, which
# spells field 1 "requested for"; no braces and a trailing ", " in the answers).
STUDY_EMPTY = (
    "{Patient requested for doctor's visit: ,\nPsychiatric and psychological complaints: ,\n"
    "Sleep disorders: ,\nLoss of appetite: ,\nSeizures: ,\nWeakness and fatigue: ,\n"
    "Decreased level of consciousness: ,\nFever: ,\nRespiratory complaints: ,\n"
    "Insurance/treatment cost issues: ,\nUrinary tract issues: ,\nPain: ,\nGastrointestinal issues: ,}"
)
STUDY_ANSWER = (
    "Patient requested a doctor's visit: True,\nPsychiatric and psychological complaints: False,\n"
    "Sleep disorders: False,\nLoss of appetite: True,\nSeizures: False,\nWeakness and fatigue: False,\n"
    "Decreased level of consciousness: False,\nFever: True,\nRespiratory complaints: False,\n"
    "Insurance/treatment cost issues: False,\nUrinary tract issues: False,\nPain: True,\n"
    "Gastrointestinal issues: False, "
)


def test_study_layout_and_spelling_match_the_studys_strings():
    values = [v == "True" for v in re.findall(r": (True|False)", STUDY_ANSWER)]
    msgs = build_messages(
        system="Rules.\n{template}",
        lead_in="{text}",
        names=STUDY_NAMES["en"],
        fmt="template",
        shots=[("call", values)],
        query="q",
        style="study",
        template_names=STUDY_TEMPLATE_NAMES["en"],
    )
    assert msgs[0]["content"] == "Rules.\n" + STUDY_EMPTY
    assert msgs[2]["content"] == STUDY_ANSWER
    assert re.fullmatch(answer_regex(STUDY_NAMES["en"], "template", "study"), STUDY_ANSWER)
    spec = score_template(STUDY_NAMES["en"], "template", "study")
    assert spec.text == STUDY_ANSWER.replace("True", "False")
    assert template_draft("Patient requested a doctor's visit: True,\nPsy", spec).endswith(
        "Gastrointestinal issues: False, "
    )


def test_layout_system_then_shot_pairs_then_query():
    msgs = build_messages(
        system="Rules.\n{template}",
        lead_in="Call:\n{text}",
        names=["A", "B"],
        fmt="template",
        shots=[("one {x}", [True, False]), ("two", [False, False])],
        query="three",
    )
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[0]["content"] == "Rules.\n{A: ,\nB: }"
    assert msgs[1]["content"] == "Call:\none {x}"  # braces in a transcript are left alone
    assert msgs[2]["content"] == "{A: True,\nB: False}"
    assert msgs[-1]["content"] == "Call:\nthree"


@pytest.mark.parametrize(
    "text, draft",
    [
        ("", "{Pain: False,\nSeizures: False,\nFever: False}"),
        ("{Pain:", " False,\nSeizures: False,\nFever: False}"),  # the text ends inside a literal part
        ("{Pain: T", "rue,\nSeizures: False,\nFever: False}"),  # ... or inside a value
        ("{Pain: True,\nSeizures: False,\nFever: True", "}"),
        ("{Pain: True,\nSeizures: False,\nFever: True}", ""),  # finished
        ("{Pain: True,\nSeizures: True,\nFe", "ver: False}"),  # a skipped field
        ("{Pain: maybe", ""),  # left the template
        ("Sure! {Pain:", ""),
    ],
)
def test_template_draft(text, draft):
    assert template_draft(text, score_template(["Pain", "Seizures", "Fever"], "template")) == draft


def test_template_draft_json():
    spec = score_template(["Pain", "Fever"], "json")
    assert template_draft('{"Pain": tr', spec) == 'ue, "Fever": false}'


def test_zero_shot():
    msgs = build_messages(system="{template}", lead_in="{text}", names=["A"], fmt="json", shots=[], query="q")
    assert [m["role"] for m in msgs] == ["system", "user"]


def test_splits_are_disjoint_seeded_and_order_free():
    ids = [f"d{i}" for i in range(100)]
    a = split_ids(ids, pool=0.2, dev=0.3, seed=1)
    assert a == split_ids(list(reversed(ids)), pool=0.2, dev=0.3, seed=1)
    assert a != split_ids(ids, pool=0.2, dev=0.3, seed=2)
    counts = {s: list(a.values()).count(s) for s in ("pool", "dev", "test")}
    assert counts == {"pool": 20, "dev": 30, "test": 50}


def test_shots_come_from_the_pool_and_never_from_the_evaluated_split():
    docs = [Document(id=f"d{i}", text="t", labels={}) for i in range(50)]
    a = split_ids([d.id for d in docs], pool=0.2, dev=0.2, seed=0)
    pool = [d for d in docs if a[d.id] == "pool"]
    shots = random_shots(pool, 3, seed=42)
    assert shots == random_shots(list(reversed(pool)), 3, seed=42)
    for evaluate in ("test", "dev", "nonpool"):
        assert not {s.id for s in shots} & {d.id for d in evaluated_split(docs, a, evaluate)}
    assert random_shots(pool, 0, seed=42) == []


def test_bad_split_and_shot_settings_are_user_errors():
    with pytest.raises(HarnessError, match="split.pool"):
        split_ids(["a"], pool=0.6, dev=0.5, seed=0)
    with pytest.raises(HarnessError, match="prompt.shots=5"):
        random_shots([Document(id="a", text="t", labels={})], 5, seed=0)


def test_marked_examples_join_the_pool_and_the_rest_splits_as_before():
    ids = [f"d{i}" for i in range(100)]
    marked = ["d7", "d42", "d99"]
    a = split_ids(ids, pool=0.2, dev=0.3, seed=1, examples=marked)
    assert all(a[i] == "pool" for i in marked)
    counts = {s: list(a.values()).count(s) for s in ("pool", "dev", "test")}
    assert counts == {"pool": 20, "dev": 30, "test": 50}
    assert split_ids(ids, pool=0.2, dev=0.3, seed=1, examples=()) == split_ids(ids, pool=0.2, dev=0.3, seed=1)


def test_evaluate_all_scores_the_examples_too():
    docs = [Document(id=f"d{i}", text="t", labels={}) for i in range(10)]
    a = split_ids([d.id for d in docs], pool=0.3, dev=0.2, seed=0)
    assert evaluated_split(docs, a, "all") == docs
