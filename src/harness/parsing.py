"""Turn a model's answer into one value per field: True, False or None
(missing). Pure functions; a garbled answer gives None fields, never an error."""

from __future__ import annotations

import json
import re
from typing import Optional, Sequence

_JSON_VALUES = {"true": True, "false": False}


def _template_value(text: str, name: str) -> tuple[Optional[bool], bool]:
    """(value, settled) for one field: the text after the field's first
    `name:` up to the next comma or closing brace. `settled` means a delimiter
    was seen, so more generated text cannot change the value."""
    m = re.search(re.escape(name) + r"\s*:", text)
    if m is None:
        return None, False
    rest = text[m.end():]
    end = min((i for i in (rest.find(","), rest.find("}")) if i >= 0), default=-1)
    value = (rest if end < 0 else rest[:end]).strip()
    return {"True": True, "False": False}.get(value), end >= 0


def parse_template(text: str, names: Sequence[str]) -> list[Optional[bool]]:
    """The reference study's parser: "True" -> True, "False" -> False, else None."""
    return [_template_value(text, n)[0] for n in names]


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


def is_complete(text: str, names: Sequence[str], fmt: str) -> bool:
    """True once the parse of `text` can no longer change as text is appended."""
    if fmt == "json":
        return _first_json_object(text) is not None
    return all(_template_value(text, n)[1] for n in names)


PARSERS = {"template": parse_template, "json": parse_json}
