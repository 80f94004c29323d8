"""Turn a model's answer into one value per field: True, False or None
(missing). Pure functions; a garbled answer gives None fields, never an error.

Three parsers, chosen by `prompt.parser`:
- `template`: strict. A field is `Name:` followed by exactly True or False
  up to the next comma or closing brace; anything else is missing.
- `study`: the reference study's rule, its quirks included (see `parse_study`).
- `json`: the first JSON object in the answer."""

from __future__ import annotations

import json
import re
from typing import Optional, Sequence

from .config import Parser

_JSON_VALUES = {"true": True, "false": False}


def _template_value(text: str, name: str) -> tuple[Optional[bool], bool]:
    """(value, settled) for one field: the text after the field's first
    `name:` up to the next comma or closing brace. `settled` means a delimiter
    was seen, so more generated text cannot change the value."""
    m = re.search(re.escape(name) + r"\s*:", text)
    if m is None:
        return None, False
    rest = text[m.end() :]
    end = min((i for i in (rest.find(","), rest.find("}")) if i >= 0), default=-1)
    value = (rest if end < 0 else rest[:end]).strip()
    return {"True": True, "False": False}.get(value), end >= 0


def parse_template(text: str, names: Sequence[str]) -> list[Optional[bool]]:
    """Strict: exactly "True" -> True, exactly "False" -> False, else None."""
    return [_template_value(text, n)[0] for n in names]


def parse_study(text: str, names: Sequence[str]) -> list[Optional[bool]]:
    """The reference study's rule, quirks included. A comma is appended to the
    answer; a field's value is the text from the end of the first plain
    substring match of its name (no colon needed) to the next comma, stripped:
    True if it contains "True", else False if it contains "False", else None.
    A name that does not occur at all is searched as position -1, so its value
    is read from index len(name) - 1 onwards: it silently takes whatever the
    text holds there (often the first field's value) and is not missing."""
    text += ","
    values: list[Optional[bool]] = []
    for name in names:
        start = text.find(name) + len(name)
        value = text[start : text.find(",", start)].strip()  # find -1 slices to the appended comma
        values.append(True if "True" in value else False if "False" in value else None)
    return values


def _first_json_object(text: str) -> Optional[dict]:
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def parse_json(text: str, names: Sequence[str]) -> list[Optional[bool]]:
    """The first JSON object in the answer; keys match field names (case-insensitively
    if not exactly); values true/false or the strings "true"/"false"."""
    obj = _first_json_object(text)
    if obj is None:
        return [None] * len(names)
    folded = {str(k).strip().casefold(): v for k, v in obj.items()}
    out = []
    for n in names:
        v = obj[n] if n in obj else folded.get(n.casefold())
        out.append(v if isinstance(v, bool) else _JSON_VALUES.get(v.strip().lower()) if isinstance(v, str) else None)
    return out


def is_complete(text: str, names: Sequence[str], parser: Parser | str) -> bool:
    """True once the parse of `text` can no longer change as text is appended."""
    parser = Parser(parser)
    if parser is Parser.json:
        return _first_json_object(text) is not None
    if parser is Parser.study:
        # A name's first match cannot move once found (a match starting earlier
        # would already be in the text), nor can the first comma after it.
        return all((at := text.find(n)) >= 0 and text.find(",", at + len(n)) >= 0 for n in names)
    return all(_template_value(text, n)[1] for n in names)


PARSERS = {Parser.template: parse_template, Parser.study: parse_study, Parser.json: parse_json}
