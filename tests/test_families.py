"""Every family the model configs name, decoded exactly: a tiny model of each
(random weights, built from its real config class, harness.families) is
loaded through `model.backend.path` like a user's model, and the backend's
shortcuts - a shared prefix, padded batches read in pairs, drafts checked
several tokens a step, rows stopping on their own, sliding-window masks,
the model's generation config - must give `model.generate`'s tokens and a
plain forward pass's P(true), in float32. In bfloat16 on CUDA (the GPU
check) agreement is reported, not required: rounding differs between batch
layouts."""

import functools
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml

from harness import families, pipeline
from harness.backends import load_backend
from harness.backends.hf import TransformersBackend
from harness.cell import prepare, route_of
from harness.records import ScoreSpec

from . import oracles
from .conftest import CONF, ROOT, composed

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]
# A model config of each family, loaded with the tiny model's folder as its path.
CONFIG = {
    "smollm2": "smollm2-135m",
    "llama3": "llama3.1-8b",
    "qwen2.5": "qwen2.5-7b",
    "gemma3": "gemma3-1b",
    "aya": "aya-expanse-8b",
}
MAX_NEW = 32
NOT_MODELS = {"keyword", "tfidf", "knn", "scripted", "served"}


def test_every_family_the_model_configs_name_has_a_case():
    for path in sorted((CONF / "model").glob("*.yaml")):
        family = yaml.safe_load(path.read_text())["family"]
        if family not in NOT_MODELS:
            assert family in families.FAMILIES, f"{path.name}: family {family} has no case in harness.families"
    assert set(CONFIG) | {"alif"} == set(families.FAMILIES)


@functools.cache
def _tokenizer():
    """One BPE tokenizer for every case, trained on the demo transcripts and their translations."""
    rows = [json.loads(line) for f in ("demo_fa", "demo_ur") for line in (ROOT / "data" / f"{f}.jsonl").open()]
    return families.tokenizer([r["text"] for r in rows] + [r["reference"] for r in rows if r.get("reference")])


def _overrides(family: str, folder: Path, device: str, dtype: str) -> list[str]:
    return [
        f"model={CONFIG[family]}",
        f"model.backend.path={folder}",
        "++model.backend.gguf_file=null",
        f"model.backend.dtype={dtype}",
        f"model.backend.device={device}",
        "model.backend.batch_size=4",  # 5 documents: a batch of 4, read in two padded pairs, and one of 1
        "model.backend.prefill_batch_size=2",
        f"model.backend.max_new_tokens={MAX_NEW}",
        "route=native",
        "prompt.shots=1",
        "dataset.limit=5",
    ]


@pytest.fixture(scope="module", params=list(CONFIG))
def family(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def case(family, tmp_path_factory):
    """(folder, cell as the model reads it): the tiny model, with one of its
    own frequent tokens made an end-of-sequence token, so that some rows stop
    early and others run to max_new_tokens."""
    folder = families.build(family, tmp_path_factory.mktemp(family.replace(".", "")), _tokenizer())
    conf = composed(*_overrides(family, folder, "cpu", "float32"))[0]
    cell = prepare(conf)
    read = route_of(conf).read(cell.shots + cell.evaluated, cell.language).documents
    cell = replace(cell, shots=read[: len(cell.shots)], evaluated=read[len(cell.shots) :])
    probe = TransformersBackend(path=str(folder), dtype="float32", device="cpu")
    rows = [
        oracles.plain_greedy(probe, r, MAX_NEW) for r in pipeline.build_requests(cell.task, cell.shots, cell.evaluated)
    ]
    stop = _stop_token(rows)
    if stop is not None:
        from transformers import GenerationConfig

        config = GenerationConfig.from_pretrained(folder)
        config.eos_token_id = [config.eos_token_id, stop]
        config.save_pretrained(folder)
    return folder, cell


def _stop_token(rows: list[list[int]]):
    """A token that some rows write after their third token and others never."""
    candidates = {t for row in rows for t in row[3:]} - {t for row in rows for t in row[:3]}
    split = [t for t in sorted(candidates) if 0 < sum(t in row for row in rows) < len(rows)]
    return split[len(split) // 2] if split else None


def _backend(family, case, device, dtype="float32"):
    folder, _ = case
    return load_backend(composed(*_overrides(family, folder, device, dtype))[0].model.backend)


def _with_templates(backend, requests):
    """The requests, longest plain answer first: the first drafts its own
    greedy answer (every draft confirmed), the second the same answer changed
    halfway (confirmed, then refused), the third none, the rest the task's
    answer template (refused at once by a random model)."""
    answers = [oracles.plain_text(backend, oracles.plain_greedy(backend, r, MAX_NEW)) for r in requests]
    order = sorted(range(len(requests)), key=lambda i: -len(answers[i]))
    requests, answers = [requests[i] for i in order], [answers[i] for i in order]
    half = len(answers[1]) // 2
    own = [ScoreSpec(t, (), "true", "false") for t in (answers[0], answers[1][:half] + "X" + answers[1][half:])]
    return [replace(r, template=t) for r, t in zip(requests, (*own, None))] + requests[3:]


@pytest.mark.parametrize("device", DEVICES)
def test_generate_equals_plain_greedy_decoding(family, case, device, monkeypatch):
    backend = _backend(family, case, device)
    cell = case[1]
    requests = _with_templates(backend, pipeline.build_requests(cell.task, cell.shots, cell.evaluated))
    assert len({len(oracles.plain_ids(backend, r)[0]) for r in requests}) > 1  # rows of different lengths
    if backend.attention.windows:  # the windows must matter: prompts longer than them
        assert min(len(oracles.plain_ids(backend, r)[0]) for r in requests) > backend.model.config.sliding_window
    generations = backend.generate(requests)
    for r, g in zip(requests, generations):
        assert g.text == oracles.plain_text(backend, oracles.plain_greedy(backend, r, MAX_NEW)), r.doc_id
    lengths = [g.n_tokens for g in generations]
    assert min(lengths) < MAX_NEW and MAX_NEW in lengths, lengths  # rows stopped on their own, others ran on
    assert backend.stats["prefix_tokens"] > 0

    # The prefix reused by a second call, and drafts confirmed several a step:
    # a row that keeps to its draft needs far fewer passes than tokens.
    calls = []
    forward = backend.model.forward
    monkeypatch.setattr(backend.model, "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    again = backend.generate(requests[:1])
    assert again[0].text == generations[0].text and again[0].n_tokens >= 8
    assert len(calls) < again[0].n_tokens / 2, (len(calls), again[0].n_tokens)


@pytest.mark.parametrize("device", DEVICES)
def test_score_equals_a_plain_forward_pass(family, case, device):
    backend = _backend(family, case, device)
    cell = case[1]
    requests = pipeline.build_requests(replace(cell.task, mode="score"), cell.shots, cell.evaluated)
    for r, s in zip(requests, backend.score(requests)):
        assert s.probs == pytest.approx(oracles.plain_probs(backend, r), abs=1e-4), r.doc_id


@pytest.mark.parametrize("family", ["qwen2.5"], indirect=True)
def test_qwen_generation_config_applies(case, family):
    """Qwen2.5-Instruct ships `repetition_penalty: 1.05`: the backend builds its
    processor (the generate test above then holds it to `generate()`'s tokens)."""
    assert _backend(family, case, "cpu").process, "no logits processor built from the generation config"


@CUDA
def test_bfloat16_on_cuda_reports_agreement(family, case, capsys):
    """bfloat16 on CUDA, where these models run: the share of documents whose
    answer is the plain model's, and the largest P(true) difference."""
    backend = _backend(family, case, "cuda", "bfloat16")
    cell = case[1]
    requests = pipeline.build_requests(cell.task, cell.shots, cell.evaluated)
    same = sum(
        g.text == oracles.plain_text(backend, oracles.plain_greedy(backend, r, MAX_NEW))
        for r, g in zip(requests, backend.generate(requests))
    )
    scored = pipeline.build_requests(replace(cell.task, mode="score"), cell.shots, cell.evaluated)
    gap = max(
        abs(a - b)
        for r, s in zip(scored, backend.score(scored))
        for a, b in zip(s.probs, oracles.plain_probs(backend, r))
    )
    with capsys.disabled():
        print(f"\nbf16 agreement {family}: {same}/{len(requests)} answers equal, P(true) within {gap:.4f}")


def test_the_gpu_bundle_names_what_it_lacks_and_fails(tmp_path, capsys):
    """A needed distribution neither installed nor carried: one line naming it, exit status 1, nothing installed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_bundle", ROOT / "benchmarks" / "gpu_bundle.py")
    bundle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundle)
    (tmp_path / "needs.txt").write_text("pytest==1\nno-such-distribution-here==1.0\n")
    assert bundle.install(tmp_path, tmp_path / "site") == 1
    assert capsys.readouterr().out.splitlines() == [
        f"gpu_bundle: no-such-distribution-here is needed, not installed and not in {tmp_path} "
        "(make the bundle with --full)"
    ]
    assert not (tmp_path / "site").exists()
