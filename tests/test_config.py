"""The real configs compose, every model x route x prompt, and typos fail."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from harness.config import register

from .conftest import CONF

MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
ROUTES = sorted(p.stem for p in (CONF / "route").glob("*.yaml"))
PROMPTS = sorted(p.stem for p in (CONF / "prompt").glob("*.yaml"))


def _compose(*overrides: str):
    register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_the_study_models_are_all_there():
    assert {"smollm2-135m", "keyword-baseline", "qwen2.5-7b", "llama3.1-8b", "llama3.2-3b", "qwen2.5-1.5b",
            "gemma3-1b", "aya-expanse-8b", "alif-8b"} <= set(MODELS)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_every_cell_composes_and_resolves(model, route, prompt):
    cfg = _compose(f"model={model}", f"route={route}", f"prompt={prompt}")
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert plain["model"]["backend"]["_target_"].startswith("harness.backends.")
    assert len(plain["features"]["entries"]) == 13
    for entry in plain["features"]["entries"]:
        assert set(entry["names"]) >= {"en", "fa", "ur"} and entry["definition"]
    for language in ("en", "fa"):
        assert "{template}" in plain["prompt"]["system"][language]
        assert "{text}" in plain["prompt"]["lead_in"][language]


@pytest.mark.parametrize("override", [
    "prompt.shotz=3",  # unknown key
    "prompt.shots=three",  # wrong type
    "prompt.format=yaml",  # not an answer format
    "split.evaluate=train",
    "model=qwen-7b",  # unknown group value
])
def test_typos_fail_at_composition(override):
    with pytest.raises(Exception) as e:
        _compose(override)
    assert type(e.value).__module__.split(".")[0] in ("hydra", "omegaconf")


def test_a_dataset_is_named_after_its_file_unless_named():
    assert _compose().dataset.name == "demo_fa"
    assert _compose("dataset=demo_ur").dataset.name == "demo_ur"
    assert _compose("dataset.path=/data/calls.jsonl").dataset.name == "calls"
    assert _compose("dataset.path=/data/calls.jsonl", "dataset.name=hospital-a").dataset.name == "hospital-a"
