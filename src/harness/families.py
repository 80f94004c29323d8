"""The model families the model configs name (`family:`), as models with
random weights built from their own config classes, offline: tiny ones for
the decoding tests (a fraction of a second each), real-size ones for speed
on a GPU (speed does not depend on the weights).

Each case keeps what sets its family apart - Llama 3's rope scaling, Qwen2's
attention biases, tied embeddings and repetition penalty, Gemma 3's sliding
and global layers with their own rope bases, Cohere's logit scale and
parallel block - and shrinks the rest. `build` writes a folder that
`model.backend.path` loads like a user's model, with a byte-level BPE
tokenizer trained on the texts given and a ChatML chat template."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=4096,
    # Wider than the default 0.02: a tiny model at 0.02 writes one token over and over
    # whatever it reads, which would test little.
    initializer_range=0.3,
)
LLAMA3_ROPE = dict(
    rope_type="llama3",
    rope_theta=500000.0,
    factor=8.0,
    low_freq_factor=1.0,
    high_freq_factor=4.0,
    original_max_position_embeddings=8192,
)


@dataclass(frozen=True)
class Family:
    model_type: str
    settings: dict  # what sets the family apart, kept at every size
    tiny: dict = field(default_factory=dict)  # the tiny case's changes to TINY
    generation: dict = field(default_factory=dict)  # generation_config.json beyond the special tokens


FAMILIES = {
    "smollm2": Family("llama", dict(tie_word_embeddings=True)),
    "llama3": Family(
        "llama",
        dict(rope_parameters=LLAMA3_ROPE, tie_word_embeddings=False),
        # The scaling moves every frequency whose wavelength passes the original context.
        tiny=dict(rope_parameters={**LLAMA3_ROPE, "original_max_position_embeddings": 1024}),
    ),
    "qwen2.5": Family(  # Qwen2's q/k/v projections carry biases in every size
        "qwen2",
        dict(rope_parameters=dict(rope_type="default", rope_theta=1000000.0), rms_norm_eps=1e-6),
        tiny=dict(tie_word_embeddings=True),  # as the 1.5B has them
        generation=dict(repetition_penalty=1.05),  # as Qwen2.5-Instruct ships it
    ),
    "gemma3": Family(
        "gemma3_text",
        dict(
            rope_parameters=dict(
                sliding_attention=dict(rope_type="default", rope_theta=10000.0),
                full_attention=dict(rope_type="default", rope_theta=1000000.0),
            ),
        ),
        # A window shorter than any few-shot prompt, so the windowed masks matter.
        tiny=dict(
            num_hidden_layers=3,
            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
            sliding_window=32,
            query_pre_attn_scalar=16,
            initializer_range=0.02,  # Gemma scales its embeddings up: wider weights saturate it
        ),
    ),
    "aya": Family(  # Cohere: logits scaled, LayerNorm, attention and MLP side by side
        "cohere",
        dict(logit_scale=0.125, use_qk_norm=False, tie_word_embeddings=True),
    ),
}
FAMILIES["alif"] = FAMILIES["llama3"]  # Alif-1.0-8B is a Llama 3.1 fine-tune

# Real sizes, from the models' published config.json files.
REAL = {
    "qwen2.5-7b": (
        "qwen2.5",
        dict(
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            vocab_size=152064,
            max_position_embeddings=32768,
            tie_word_embeddings=False,
        ),
    ),
    "llama3.1-8b": (
        "llama3",
        dict(
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=128256,
            max_position_embeddings=131072,
        ),
    ),
}


def tokenizer(texts: Iterable[str], vocab_size: int = 2000):
    """A byte-level BPE tokenizer trained on `texts` (any script), ChatML turns."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    # The answer words, often enough to be one token each, as in a real
    # vocabulary: score mode reads P(true) at a value's single token.
    words = " ".join(w for w in ("true", "false", "yes", "no") for w in (w, w.capitalize()))
    bpe.train_from_iterator([*texts, *[words] * 200], trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = CHATML
    return tok


def build(
    family: str,
    folder: Path,
    tok,
    size: Optional[str] = None,
    dtype: str = "float32",
    device: str = "cpu",
    seed: int = 0,
) -> Path:
    """Write a model of `family` with random weights and the tokenizer `tok`
    (`tokenizer()`) to `folder`: tiny, or `size` one of REAL's model configs.
    Returns the folder."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    case = FAMILIES[family]
    if size is not None:
        real_family, dims = REAL[size]
        if real_family != family:
            raise ValueError(f"{size} is of family {real_family}, not {family}")
    eos, pad = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    dims = dims if size is not None else {**TINY, "vocab_size": len(tok), **case.tiny}
    config = AutoConfig.for_model(
        case.model_type, **{**case.settings, **dims}, bos_token_id=None, eos_token_id=eos, pad_token_id=pad
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    GenerationConfig(eos_token_id=eos, pad_token_id=pad, **case.generation).save_pretrained(folder)
    (folder / "family.json").write_text(json.dumps({"family": family, "size": size or "tiny"}))
    return folder
