import pytest
from omegaconf import OmegaConf

from harness.backends.keyword import KeywordBackend, normalize
from harness.records import Request

from .conftest import compose_config


@pytest.fixture(scope="module")
def baseline() -> KeywordBackend:
    cfg = compose_config("model=keyword-baseline")
    spec = OmegaConf.to_container(cfg.model.backend, resolve=True, enum_to_str=True)
    spec.pop("_target_")
    return KeywordBackend(**spec)


@pytest.mark.parametrize(
    "text, language, present, absent",
    [
        ("پدرم از دیشب تب دارد.", "fa", {"fever"}, {"pain"}),
        ("تب ندارد، دمایش را اندازه گرفتم.", "fa", set(), {"fever"}),
        ("هفته پیش تب داشت ولی الان تبش قطع شده.", "fa", set(), {"fever"}),
        ("روده‌اش مرتب کار می‌کند.", "fa", set(), {"fever"}),  # تب inside مرتب is not a word start
        ("مادرم اشتها ندارد و تقریباً چیزی نمی‌خورد.", "fa", {"appetite"}, set()),
        ("My father has severe back pain. He doesn't have a fever.", "en", {"pain"}, {"fever"}),
        ("His bone pain is not relieved by painkillers.", "en", {"pain"}, set()),
    ],
)
def test_lexicon_with_negation_and_resolution(baseline, text, language, present, absent):
    labels = baseline.predict(text, language)
    assert {k for k in present if labels[k]} == present
    assert not {k for k in absent if labels[k]}


def test_unicode_variants_normalise_alike(baseline):
    plain = "مادرم بی‌خوابی دارد و درد کمر دارد ۳ روز"
    variant = "\u200fمادرم بي\u200cخوابي دارد و درد كمر دارد 3 روز"  # Arabic yeh/kaf, ASCII digit, bidi mark
    assert normalize(plain) == normalize(variant)
    assert baseline.predict(plain, "fa") == baseline.predict(variant, "fa")


def test_is_a_batch_backend(baseline):
    reqs = [Request(doc_id=str(i), messages=(), text=t, language="en") for i, t in enumerate(["pain", "no pain"])]
    gens = baseline.classify(reqs)
    assert [g.doc_id for g in gens] == ["0", "1"]
    assert gens[0].labels["pain"] and not gens[1].labels["pain"]
