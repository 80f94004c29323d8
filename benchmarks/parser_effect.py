"""What the parser does to a run's numbers: every answer of a run parsed
with each parser, side by side.

    python benchmarks/parser_effect.py predictions.jsonl [overrides of the run ...]

`predictions.jsonl` is a generate-mode run's artifact (MLflow UI, or
`mlflow artifacts download -r RUN_ID -a predictions.jsonl`); the overrides
are the run's own (e.g. `+experiment=reference_study route=reference`), so
the field names match its prompt. Prints, per parser: missing fields, median
macro-F1 and MCC over the features; then how many fields the parsers read
differently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from harness import metrics, parsing  # noqa: E402
from harness.cell import task_of  # noqa: E402
from harness.config import register, typed  # noqa: E402


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    rows = [json.loads(line) for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()]
    register()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        conf, _ = typed(compose(config_name="config", overrides=sys.argv[2:]))
    task = task_of(conf)
    gold = [r["gold"] for r in rows]
    parsed = {}
    for name in ("template", "study"):
        parsed[name] = [dict(zip(task.keys, parsing.PARSERS[name](r["raw_output"], task.names))) for r in rows]
        summary = metrics.summarize(metrics.score(gold, parsed[name], task.keys), len(rows))
        print(
            f"{name:9s} missing {summary['missing/rate']:6.1%}  median macro-F1 {summary['median/macro_f1']:.3f}  "
            f"median MCC {summary['median/mcc']:.3f}"
        )
    fields = len(rows) * len(task.keys)
    changed = sum(a[k] != b[k] for a, b in zip(parsed["template"], parsed["study"]) for k in task.keys)
    was_missing = sum(
        a[k] is None and b[k] is not None for a, b in zip(parsed["template"], parsed["study"]) for k in task.keys
    )
    print(
        f"{changed} of {fields} fields ({changed / fields:.1%}) read differently, {was_missing} of them missing "
        f"under the strict parser; {sum(a != b for a, b in zip(parsed['template'], parsed['study']))} of "
        f"{len(rows)} documents"
    )


if __name__ == "__main__":
    main()
