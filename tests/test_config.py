"""The real configs compose, every model x route x prompt, and typos fail."""

import pytest
from omegaconf import OmegaConf

from .conftest import CONF, compose_config

MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
ROUTES = sorted(p.stem for p in (CONF / "route").glob("*.yaml"))
PROMPTS = sorted(p.stem for p in (CONF / "prompt").glob("*.yaml"))


def test_the_study_models_are_all_there():
    assert {
        "smollm2-135m",
        "keyword-baseline",
        "qwen2.5-7b",
        "llama3.1-8b",
        "llama3.2-3b",
        "qwen2.5-1.5b",
        "gemma3-1b",
        "aya-expanse-8b",
        "alif-8b",
    } <= set(MODELS)


# Each model once, on a route and prompt that rotate so that every model,
# route, prompt and route x prompt pair composes (the groups share no keys: a
# composition per cell of the full grid would test nothing more, at ~0.5 s each).
CELLS = [(m, ROUTES[i % len(ROUTES)], PROMPTS[i // len(ROUTES) % len(PROMPTS)]) for i, m in enumerate(MODELS)]


def test_the_cells_cover_every_route_and_prompt_pair():
    assert len(MODELS) >= len(ROUTES) * len(PROMPTS)
    assert {(r, p) for _, r, p in CELLS} == {(r, p) for r in ROUTES for p in PROMPTS}


@pytest.mark.parametrize("model, route, prompt", CELLS)
def test_every_cell_composes_and_resolves(model, route, prompt):
    cfg = compose_config(f"model={model}", f"route={route}", f"prompt={prompt}")
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert plain["model"]["backend"]["_target_"].startswith("harness.backends.")
    assert len(plain["features"]["entries"]) == 13
    for entry in plain["features"]["entries"]:
        assert set(entry["names"]) >= {"en", "fa", "ur"} and entry["definition"]
    for language in ("en", "fa"):
        assert "{template}" in plain["prompt"]["system"][language]
        assert "{text}" in plain["prompt"]["lead_in"][language]


@pytest.mark.parametrize(
    "override",
    [
        "prompt.shotz=3",  # unknown key
        "prompt.shots=three",  # wrong type
        "prompt.format=yaml",  # not an answer format
        "split.evaluate=train",
        "model=qwen-7b",  # unknown group value
    ],
)
def test_typos_fail_at_composition(override):
    with pytest.raises(Exception) as e:
        compose_config(override)
    assert type(e.value).__module__.split(".")[0] in ("hydra", "omegaconf")


def test_a_dataset_is_named_after_its_file_unless_named():
    assert compose_config().dataset.name == "demo_fa"
    assert compose_config("dataset=demo_ur").dataset.name == "demo_ur"
    assert compose_config("dataset.path=/data/calls.jsonl").dataset.name == "calls"
    assert compose_config("dataset.path=/data/calls.jsonl", "dataset.name=hospital-a").dataset.name == "hospital-a"
