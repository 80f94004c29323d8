"""The generation config's processors, as generate() builds them under greedy
decoding; a setting the harness cannot reproduce stops the run by name."""

import pytest
import torch
from transformers import GenerationConfig
from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

from harness.backends.processors import greedy_processors
from harness.errors import HarnessError

CPU = torch.device("cpu")


def test_unsupported_settings_name_themselves():
    with pytest.raises(HarnessError, match="forced_bos_token_id=1"):
        greedy_processors(GenerationConfig(forced_bos_token_id=1), [2], "m", CPU)
    with pytest.raises(HarnessError, match="num_beams=4"):
        greedy_processors(GenerationConfig(num_beams=4), [2], "m", CPU)


def test_sampling_settings_do_nothing_without_sampling():
    assert greedy_processors(GenerationConfig(temperature=0.7, top_p=0.8, top_k=20), [2], "m", CPU) is None


def test_penalty_and_per_row_lengths():
    scores = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    ids = torch.tensor([0, 1])
    process = greedy_processors(GenerationConfig(repetition_penalty=2.0), [3], "m", CPU)
    expected = RepetitionPenaltyLogitsProcessor(2.0)(ids[None], scores.clone())
    assert torch.equal(process(ids, 2, scores.clone()), expected)
    # min_new_tokens counts from each row's own prompt: end of sequence (3) is barred until then
    process = greedy_processors(GenerationConfig(min_new_tokens=2), [3], "m", CPU)
    assert process(ids, 1, scores.clone())[0, 3] == -float("inf")  # 1 new token so far
    assert process(ids, 0, scores.clone())[0, 3] == 3.0  # 2 new tokens so far
