import pytest

from harness.parsing import PARSERS, is_complete, parse_json, parse_study, parse_template
from harness.prompts import filled_template

NAMES = ["Patient requested a doctor's visit", "Fever", "Pain"]


def test_template_parser_reads_each_field_up_to_the_comma():
    text = "{Patient requested a doctor's visit: True,\nFever: False,\nPain: True}"
    assert parse_template(text, NAMES) == [True, False, True]


def test_anything_but_True_or_False_is_missing():
    text = "Patient requested a doctor's visit: yes, Fever: true, Pain: False maybe,"
    assert parse_template(text, NAMES) == [None, None, None]


def test_missing_field_and_garbage():
    assert parse_template("{Fever: True}", NAMES) == [None, True, None]
    assert parse_template("", NAMES) == [None, None, None]
    assert parse_template("\x00\ufffd}}{{::,,", NAMES) == [None, None, None]


def test_first_occurrence_wins():
    assert parse_template("Fever: False, Fever: True,", NAMES)[1] is False


def test_round_trip_of_the_example_answers():
    for fmt, parse in (("template", parse_template), ("json", parse_json)):
        assert parse(filled_template(NAMES, [True, False, True], fmt), NAMES) == [True, False, True]


def test_persian_field_names():
    names = ["تب", "درد"]
    assert parse_template("{تب: True,\nدرد: False}", names) == [True, False]


def test_json_parser():
    assert parse_json('Here: {"Fever": true, "pain": "false"} done', NAMES) == [None, True, False]
    assert parse_json('{"Fever": 1, "Pain": null}', NAMES) == [None, None, None]
    assert parse_json("{not json", NAMES) == [None, None, None]
    assert parse_json("[1, 2]", NAMES) == [None, None, None]


def test_complete_only_when_no_more_text_can_change_the_parse():
    partial = "{Patient requested a doctor's visit: True,\nFever: False,\nPain: Tr"
    assert not is_complete(partial, NAMES, "template")
    assert is_complete(partial + "ue}", NAMES, "template")
    assert not is_complete('{"Fever": true', NAMES, "json")
    assert is_complete('{"Fever": true}', NAMES, "json")


def test_answer_regex_matches_exactly_the_well_formed_answers():
    import re

    from harness.prompts import answer_regex

    for fmt in ("template", "json"):
        pattern = re.compile(answer_regex(NAMES, fmt))
        assert pattern.fullmatch(filled_template(NAMES, [True, False, True], fmt))
        assert not pattern.fullmatch(filled_template(NAMES[:2], [True, False], fmt))


def test_score_template_spans_point_at_the_values():
    from harness.prompts import score_template

    for fmt in ("template", "json"):
        spec = score_template(NAMES, fmt)
        assert [spec.text[a:b] for a, b in spec.spans] == [spec.false_word] * len(NAMES)


# The study's rule on answers a small model writes. Each expected row was worked
# out by hand from the rule (docs/protocol.md): append a comma; from
# the end of the name's first plain match (or index len(name) - 1 when absent)
# to the next comma; "True" in it -> True, else "False" in it -> False, else None.
STUDY_CASES = [
    # (answer, study parser, strict template parser)
    (
        "Patient requested a doctor's visit: True,\nFever: False,\nPain: True, ",  # the study's own example layout
        [True, False, True],
        [True, False, True],
    ),
    (
        "{Patient requested a doctor's visit: False,\nFever: True,\nPain: False,}",  # its empty template's layout
        [False, True, False],
        [False, True, False],
    ),
    (
        "Patient requested a doctor's visit: **True**,\nFever: True.\nPain: Yes (False),",  # decorated values
        [True, True, False],
        [None, None, None],
    ),
    (
        "Patient requested a doctor's visit: true,\nFever: false,\nPain: FALSE,",  # lowercase: missing both ways
        [None, None, None],
        [None, None, None],
    ),
    # Fever dropped: read from index 4 ("ent requested ... True"), so it copies the first value
    ("Patient requested a doctor's visit: True,\nPain: False,", [True, True, False], [True, None, False]),
    # no commas: each value runs to the end of the answer; "True" anywhere in it wins
    ("Patient requested a doctor's visit: True\nFever: False\nPain: False", [True, False, False], [None, None, False]),
    ("Patient requested a doctor's visit: False\nFever: False\nPain: True", [True, True, True], [None, None, True]),
    # no colon: a plain substring match is enough for the study
    ("Patient requested a doctor's visit False, Fever True, Pain False,", [False, True, False], [None, None, None]),
    (
        "Sure! Here is the template: Patient requested a doctor's visit: False, Fever: True, Pain: False, "
        "I hope this is True",
        [False, True, False],
        [False, True, False],
    ),  # prose around the answer
    # truncated after field 1: Fever reads from index 4, Pain from index 3, both inside field 1
    ("Patient requested a doctor's visit: True,\nFev", [True, True, True], [True, None, None]),
    (
        "Patient requested a doctor's visit: False,\nFever: False,\nPain: False,\n"  # the template repeated:
        "Patient requested a doctor's visit: True,\nFever: True,\nPain: True,",
        [False, False, False],
        [False, False, False],
    ),  # the first occurrence counts
    ("", [None, None, None], [None, None, None]),  # an empty answer: index past the end reads nothing
    ("True", [None, None, None], [None, None, None]),  # too short to reach index len(name) - 1
]


@pytest.mark.parametrize("answer, study, strict", STUDY_CASES)
def test_study_parser_on_well_formed_and_garbled_answers(answer, study, strict):
    assert parse_study(answer, NAMES) == study
    assert parse_template(answer, NAMES) == strict


def test_study_parser_in_persian():
    names = ["درخواست بیمار برای ویزیت پزشک", "تب", "درد"]
    assert parse_study("درخواست بیمار برای ویزیت پزشک: False,\nتب: True,\nدرد: False, ", names) == [False, True, False]


def test_every_parser_has_one_signature():
    assert set(PARSERS) == {"template", "study", "json"}
    for parse in PARSERS.values():
        assert parse("nothing here at all", NAMES) in ([None] * 3, [True, True, True], [False] * 3)


@pytest.mark.parametrize("answer", [a for a, *_ in STUDY_CASES])
def test_study_parse_is_settled_once_complete(answer):
    """Once is_complete says so, no appended text changes the study's parse."""
    for end in range(len(answer) + 1):
        if is_complete(answer[:end], NAMES, "study"):
            for tail in (", Fever: True, Pain: True,", "True", "Patient requested a doctor's visit: True,"):
                assert parse_study(answer[:end] + tail, NAMES) == parse_study(answer[:end], NAMES)
