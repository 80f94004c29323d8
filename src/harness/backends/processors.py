"""The logits processors of a model's generation config, as `generate()`
applies them under greedy decoding.

`pipeline("text-generation")` with `do_sample=False` still applies the
model's own generation config (Qwen2.5-Instruct ships `repetition_penalty`
1.05). The harness decodes with its own loop, so it builds the same
processors from transformers' public classes, in `generate()`'s order, and
applies them to one sequence at a time: each row's own tokens, no padding.
A setting this module does not reproduce stops the run, naming it."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from ..errors import HarnessError
from ..lazy import LazyModule

torch, transformers = LazyModule("torch"), LazyModule("transformers")

# Settings that change greedy decoding in ways this module does not reproduce,
# with the value at which they do nothing.
UNSUPPORTED = {
    "guidance_scale": 1.0,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "remove_invalid_values": False,
    "exponential_decay_length_penalty": None,
    "watermarking_config": None,
    "num_beams": 1,
    "penalty_alpha": None,
    "dola_layers": None,
    "stop_strings": None,
    "max_time": None,
    "num_beam_groups": 1,
    "diversity_penalty": 0.0,
    "constraints": None,
    "force_words_ids": None,
    "token_healing": False,
}

# (ids of one sequence, 1-D; its prompt's length; logits for the next token, (1, vocab) float32) -> logits
Processor = Callable[["torch.Tensor", int, "torch.Tensor"], "torch.Tensor"]


def greedy_processors(
    config: transformers.GenerationConfig, eos_ids: Sequence[int], model: str, device: torch.device
) -> Optional[Processor]:
    """What `generate(do_sample=False)` would apply to the logits before its
    argmax, or None where it applies nothing (so decoding skips the work).
    Sampling settings (temperature, top_k, top_p, ...) do nothing without
    sampling; `renormalize_logits` does not move the argmax."""
    from transformers.generation.logits_process import (
        MinLengthLogitsProcessor,
        NoBadWordsLogitsProcessor,
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
        SequenceBiasLogitsProcessor,
        SuppressTokensAtBeginLogitsProcessor,
        SuppressTokensLogitsProcessor,
    )

    for name, inactive in UNSUPPORTED.items():
        value = getattr(config, name, None)
        if value is not None and value != inactive:
            raise HarnessError(
                f"model {model}: its generation config sets {name}={value!r}, which the harness's "
                "greedy decoding does not reproduce (edit generation_config.json in a copy of the "
                "model folder, or use a backend that runs generate())"
            )
    eos = list(eos_ids)
    fixed = []  # in generate()'s order
    if config.sequence_bias is not None:
        fixed.append(SequenceBiasLogitsProcessor(sequence_bias=config.sequence_bias))
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        fixed.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty))
    if config.no_repeat_ngram_size:
        fixed.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if config.bad_words_ids is not None:
        fixed.append(NoBadWordsLogitsProcessor(config.bad_words_ids, eos))
    if config.min_length and eos:
        fixed.append(MinLengthLogitsProcessor(config.min_length, eos, device=device))
    min_new = config.min_new_tokens if eos else None
    suppress = (
        SuppressTokensLogitsProcessor(config.suppress_tokens, device=device)
        if config.suppress_tokens is not None
        else None
    )
    begin = config.begin_suppress_tokens
    if not (fixed or min_new or suppress or begin is not None):
        return None

    def process(ids: torch.Tensor, prompt_length: int, scores: torch.Tensor) -> torch.Tensor:
        ids = ids[None]
        for processor in fixed:
            scores = processor(ids, scores)
        if min_new:  # counted from each row's own prompt
            scores = MinLengthLogitsProcessor(prompt_length + min_new, eos, device=device)(ids, scores)
        if suppress is not None:
            scores = suppress(ids, scores)
        if begin is not None:
            scores = SuppressTokensAtBeginLogitsProcessor(begin, prompt_length, device=device)(ids, scores)
        return scores

    return process


def greedy_choices(logits: torch.Tensor, process: Optional[Processor], prompts, answers, drafts) -> torch.Tensor:
    """Greedy choices (rows, positions): the argmax of the logits after the
    processors, where there are any. Row r's position j follows its prompt,
    its answer so far and its first j drafts; a row whose answer is None is
    done and left as it is."""
    if process is None:
        return logits.argmax(-1)
    scores = logits.float()  # as generate() processes them
    for r, (prompt, answer, draft) in enumerate(zip(prompts, answers, drafts)):
        if answer is not None:
            ids = torch.tensor([*prompt, *answer, *draft], device=logits.device)
            for j in range(len(prompt) + len(answer), len(ids) + 1):
                at = j - len(prompt) - len(answer)
                scores[r, at : at + 1] = process(ids[:j], len(prompt), scores[r, at : at + 1])
    return scores.argmax(-1)
