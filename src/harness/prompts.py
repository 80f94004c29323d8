"""Prompt rendering: pure functions from prompt text, field names and examples
to chat messages. The model's chat template turns these into tokens."""

from __future__ import annotations

import json
import re
from typing import Optional, Sequence, Union

from .config import AnswerFormat, TemplateStyle
from .errors import HarnessError
from .records import ScoreSpec

# How the template answer is laid out, per `prompt.template_style`: (opening,
# text after the last field, closing) of the empty template in the system turn
# and of a filled answer in the examples. Fields are `Name: value`, one a line,
# joined by ",\n".
#   braces: `{A: ,\nB: }` and `{A: True,\nB: False}`
#   study:  `{A: ,\nB: ,}` and `A: True,\nB: False, ` (the reference study's)
Format = Union[AnswerFormat, str]  # the config's Enum, or its value
Style = Union[TemplateStyle, str]
_LAYOUTS = {
    TemplateStyle.braces: {"empty": ("{", "", "}"), "filled": ("{", "", "}")},
    TemplateStyle.study: {"empty": ("{", ",", "}"), "filled": ("", ", ", "")},
}


def _is_json(fmt: Format) -> bool:
    return AnswerFormat(fmt) is AnswerFormat.json


def _lay_out(fields: Sequence[str], style: Style, which: str) -> str:
    opening, last, closing = _LAYOUTS[TemplateStyle(style)][which]
    return opening + ",\n".join(fields) + last + closing


def empty_template(names: Sequence[str], fmt: Format, style: Style = TemplateStyle.braces) -> str:
    """The answer skeleton shown in the system message."""
    if _is_json(fmt):
        return json.dumps({n: None for n in names}, ensure_ascii=False)
    return _lay_out([f"{n}: " for n in names], style, "empty")


def filled_template(
    names: Sequence[str], values: Sequence[bool], fmt: Format, style: Style = TemplateStyle.braces
) -> str:
    """A correct answer, as the examples' assistant turns show it."""
    if _is_json(fmt):
        return json.dumps(dict(zip(names, values)), ensure_ascii=False)
    return _lay_out([f"{n}: {v}" for n, v in zip(names, values)], style, "filled")


def answer_regex(names: Sequence[str], fmt: Format, style: Style = TemplateStyle.braces) -> str:
    """A regular expression matching exactly the well-formed answers."""
    if _is_json(fmt):
        items = [re.escape(json.dumps(n, ensure_ascii=False)) + r": (true|false)" for n in names]
        return r"\{" + ", ".join(items) + r"\}"
    opening, last, closing = (re.escape(part) for part in _LAYOUTS[TemplateStyle(style)]["filled"])
    return opening + r",\n".join(re.escape(n) + r": (True|False)" for n in names) + last + closing


def score_template(names: Sequence[str], fmt: Format, style: Style = TemplateStyle.braces) -> ScoreSpec:
    """The answer as score mode feeds it: the false word at every field (the
    majority answer, so later fields see the likeliest context), with the
    character span of each value."""
    true_word, false_word = ("true", "false") if _is_json(fmt) else ("True", "False")
    text = filled_template(names, [False] * len(names), fmt, style)
    spans, at = [], 0
    for name in names:
        at = text.index(false_word, text.index(json.dumps(name, ensure_ascii=False) if _is_json(fmt) else name, at))
        spans.append((at, at + len(false_word)))
        at += len(false_word)
    return ScoreSpec(text=text, spans=tuple(spans), true_word=true_word, false_word=false_word)


def template_draft(text: str, spec: ScoreSpec) -> str:
    """The rest of an answer that has begun as `text`, if it keeps to the
    template: its literal parts, and the false word at each value still to
    come. A field the text skipped is skipped (small models drop some).
    Empty once the text has left the template, or finished it."""
    parts: list[Optional[str]] = []  # the template's literal parts, None where a value goes
    at = 0
    for start, end in spec.spans:
        parts += [spec.text[at:start], None]
        at = end
    parts.append(spec.text[at:])
    i = pos = 0
    while i < len(parts):
        rest = text[pos:]
        if parts[i] is None:
            options = [(i, spec.false_word), (i, spec.true_word)]
        else:  # this literal part, or a later one: the text may skip fields
            options = [(j, parts[j]) for j in range(i, len(parts), 2)]
        for j, option in options:
            if rest.startswith(option):
                i, pos = j + 1, pos + len(option)
                break
            if option.startswith(rest):  # the text ends inside this part
                return option[len(rest) :] + "".join(spec.false_word if p is None else p for p in parts[j + 1 :])
        else:
            return ""
    return ""


def build_messages(
    *,
    system: str,
    lead_in: str,
    names: Sequence[str],
    fmt: Format,
    shots: Sequence[tuple[str, Sequence[bool]]],
    query: str,
    style: Style = TemplateStyle.braces,
    template_names: Optional[Sequence[str]] = None,
) -> tuple[dict[str, str], ...]:
    """System rules + empty template, then each example as a user/assistant
    pair, then the query: the study's layout. `shots` are (text, labels).
    `template_names` spell the fields in the empty template where that
    differs from `names` (the answers' spelling)."""
    skeleton = empty_template(template_names or names, fmt, style)
    messages = [{"role": "system", "content": system.replace("{template}", skeleton)}]
    for text, labels in shots:
        messages.append({"role": "user", "content": lead_in.replace("{text}", text)})
        messages.append({"role": "assistant", "content": filled_template(names, labels, fmt, style)})
    messages.append({"role": "user", "content": lead_in.replace("{text}", query)})
    return tuple(messages)


def plain_turns(messages: Sequence[dict[str, str]]) -> str:
    """Chat turns as plain text, for a base model without a chat template:
    the turns' contents in order, a blank line before each user turn and the
    answer on the line after it, so the examples show the model where an
    answer goes. Ends where the query's answer begins."""
    text = ""
    for m in messages:
        text += ("\n\n" if text and m["role"] != "assistant" else "\n" if text else "") + m["content"]
    return text + "\n"


def pick_language(texts: dict[str, str], language: str, what: str) -> str:
    """The text for one language, or a clear error naming the config key."""
    if language not in texts:
        raise HarnessError(f"{what} has no {language!r} text (it has: {', '.join(sorted(texts))})")
    return texts[language]
