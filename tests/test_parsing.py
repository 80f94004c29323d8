from harness.parsing import is_complete, parse_json, parse_template
from harness.prompts import filled_template

NAMES = ["Request for doctor's visit", "Fever", "Pain"]


def test_reference_parser_reads_each_field_up_to_the_comma():
    text = "{Request for doctor's visit: True,\nFever: False,\nPain: True}"
    assert parse_template(text, NAMES) == [True, False, True]


def test_anything_but_True_or_False_is_missing():
    text = "Request for doctor's visit: yes, Fever: true, Pain: False maybe,"
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
    partial = "{Request for doctor's visit: True,\nFever: False,\nPain: Tr"
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
