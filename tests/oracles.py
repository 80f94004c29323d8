"""What the plain model gives one document at a time: the answers the
transformers backend's shortcuts must reproduce (test_hf_backend,
test_families)."""

import torch


def plain_ids(backend, request) -> torch.Tensor:
    return backend.tokenizer(backend.render(request), add_special_tokens=False, return_tensors="pt").input_ids.to(
        backend.device
    )


def plain_greedy(backend, request, max_new_tokens: int) -> list[int]:
    """`model.generate`'s greedy tokens (the model's generation config
    applied), without the end-of-sequence token it may stop at."""
    ids = plain_ids(backend, request)
    out = backend.model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        max_new_tokens=max_new_tokens,
        pad_token_id=backend.tokenizer.pad_token_id,
    )[0, ids.shape[1] :].tolist()
    return out[:-1] if out and out[-1] in backend.eos_ids else out


def plain_text(backend, tokens: list[int]) -> str:
    return backend.tokenizer.decode(tokens, skip_special_tokens=True)


def plain_probs(backend, request) -> list[float]:
    """P(true) at each field from one forward pass over the whole answer, each
    field's value token found where the True and False answers part (no
    offset search, unlike the backend)."""
    prompt, spec = backend.render(request), request.score
    ids = backend.tokenizer(prompt + spec.text, add_special_tokens=False).input_ids
    with torch.inference_mode():
        logits = backend.model(input_ids=torch.tensor([ids], device=backend.device)).logits[0].float()
    probs = []
    for start, end in spec.spans:
        flipped = backend.tokenizer(
            prompt + spec.text[:start] + spec.true_word + spec.text[end:], add_special_tokens=False
        ).input_ids
        j = next(k for k, (a, b) in enumerate(zip(ids, flipped)) if a != b)
        probs.append(float(torch.sigmoid(logits[j - 1, flipped[j]] - logits[j - 1, ids[j]])))
    return probs
