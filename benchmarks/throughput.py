"""Throughput: the reference study's way against the harness, in one process.

    python benchmarks/throughput.py                      # CPU defaults: embedded model, 8 documents, 3 shots
    python benchmarks/throughput.py --docs 64 --model qwen2.5-7b --study-batch 4

On the same documents, prompt and model it times, after a warm-up, with the
reference study's protocol elements (+experiment=reference_study: its
parser, answer layout and field spelling; the test split, not every document):
  (a) the study: transformers pipeline("text-generation"), do_sample=False
      (the model's generation config applies), max_new_tokens 512, batched
      (--study-batch), each answer parsed with the study's parser;
  (b) the harness, generate mode (shared prefix cache, batched, early stop);
  (c) the harness, score mode (one forward pass per document);
  (bk), (ck) the same two with each document shown its own examples
      (prompt.selection=knn: prompts share no prefix beyond the system turn);
and where llama-cpp-python and the model's llama.cpp config
(conf/model/<model>-llamacpp.yaml) are there, on the same GGUF weights:
  (d) llama.cpp by hand: llama-cpp-python's create_chat_completion per
      document, greedy (temperature 0), 512 tokens, the same threads;
  (e) the harness's llama.cpp backend, generate mode as configured (no
      drafts, no flash attention: create_chat_completion's tokens), (e+)
      with --llamacpp-drafts drafts and flash attention, (es) and (es+)
      score mode the same two ways, (ek) and (esk) both with knn examples.
With --reading-only, only (c), (ck), (a1) and the bound below (score mode
against its bound; a few minutes). With --random (real or tiny) the model is the config's architecture with
random weights (harness.families; no download, real size where
families.REAL has it): speed does not depend on the weights, but nothing
stops early, so only what reads prompts is timed: (a) becomes the study's
pipeline writing one token (its prompt reading: a lower bound on its time),
and (c), (ck) and the bound as above.
It prints documents per second, the ratios b/a and c/a (and e/d, es/c),
peak resident memory and its rise during each side, the
agreement of (a) and (b) predictions (greedy decoding: they must agree) and of
(b) and (c), and the achieved model FLOP/s as a fraction of this machine's
measured matmul peak; under each harness mode, the timings its run logs.
`--ablations` also times generate mode with each of its decoding choices
undone (how many rows a pass reads prompts, drafts, in-place attention heads
on CPU, the dtype), and score mode with its prompts read in other groups.
Routes: native (the Persian transcripts, English
prompt) and reference (the English reference translations).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import itertools
import os
import resource
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import psutil
import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from harness import parsing, pipeline  # noqa: E402
from harness.backends import load_backend  # noqa: E402
from harness.backends.hf import default_dtype  # noqa: E402
from harness.backends.layout import common_prefix  # noqa: E402
from harness.cell import components, prepare  # noqa: E402
from harness.config import register, typed  # noqa: E402
from harness.prompts import plain_turns  # noqa: E402


class PeakMemory:
    """Peak resident memory (and CUDA memory) while the block runs."""

    def __enter__(self):
        self.start = self.rss = psutil.Process().memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        return self

    def _sample(self):
        while not self._stop.wait(0.05):
            self.rss = max(self.rss, psutil.Process().memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None

    def __str__(self):
        return f"RSS {self.rss / 2**20:,.0f} MB (+{(self.rss - self.start) / 2**20:,.0f})" + (
            f", GPU {self.gpu:,.0f} MB" if self.gpu is not None else ""
        )


def matmul_peak_flops(device: torch.device, dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """This machine's dense matmul rate: the ceiling for a transformer's FLOP/s."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        count += 1
    sync()
    return 2 * n**3 * count / (time.perf_counter() - start)


def study_way(backend, requests, batch_size: int, max_new_tokens: int = 512) -> tuple[list[str], int]:
    """The study's loop: a text-generation pipeline over the chat messages,
    greedy, 512 new tokens. Returns the answers and the tokens processed."""
    from transformers import pipeline as hf_pipeline

    generator = hf_pipeline(
        "text-generation",
        model=backend.model,
        tokenizer=backend.tokenizer,
        batch_size=batch_size,
        device=backend.model.device,
    )
    generator.tokenizer.padding_side = "left"
    # A base model without a chat template (Gemma-3-270M) reads the turns as plain text, as the harness lays them out.
    chat = backend.tokenizer.chat_template is not None
    outputs = generator(
        [list(r.messages) if chat else plain_turns(r.messages) for r in requests],
        max_new_tokens=max_new_tokens,
        do_sample=False,
        return_full_text=False,
        pad_token_id=backend.tokenizer.pad_token_id,
    )
    answers = [o[0]["generated_text"] for o in outputs]
    tokens = sum(
        len(backend.tokenizer(backend.render(r) + a, add_special_tokens=False).input_ids)
        for r, a in zip(requests, answers)
    )
    return answers, tokens


def llamacpp_by_hand(backend, requests) -> tuple[list[str], int]:
    """(d) What a user would write with llama-cpp-python: one Llama over the
    same GGUF file, the same threads, and `create_chat_completion` per
    document, greedy, 512 tokens (a base model without a chat template:
    `create_completion` on the same plain-turns prompt). llama.cpp itself
    reuses the longest prefix a prompt shares with the one before. Returns
    the answers and the tokens processed."""
    import llama_cpp

    llama = llama_cpp.Llama(
        model_path=backend.llama.model_path, n_ctx=backend.context, n_threads=backend.n_threads, verbose=False
    )
    chat = backend._formatter is not None
    answers, tokens = [], 0
    for r in requests:
        if chat:
            done = llama.create_chat_completion(messages=list(r.messages), temperature=0, max_tokens=512)
            answers.append(done["choices"][0]["message"]["content"] or "")
        else:
            done = llama.create_completion(backend.render(r), temperature=0, max_tokens=512)
            answers.append(done["choices"][0]["text"])
        tokens += done["usage"]["total_tokens"]
    llama.close()
    return answers, tokens


@torch.inference_mode()
def least_forward_s(backend, requests, batch_sizes=(1, 2, 4, 8)) -> tuple[float, float, int]:
    """The least model computation any method needs to read these prompts
    with this model and these kernels: one forward pass over their shared
    prefix and one over each prompt's own tokens - no decoding, no
    tokenizing timed; a score-mode request brings its answer template, which
    score mode must read too. Returns (seconds in all, seconds without
    the prefix, batch size) for the fastest of these batch sizes (right
    padding, length-sorted)."""
    model, sync = backend.model, backend._sync
    rows = [
        backend.tokenizer(backend.render(r) + (r.score.text if r.score else ""), add_special_tokens=False).input_ids
        for r in requests
    ]
    n = common_prefix(rows, min(len(r) for r in rows) - 1)
    rows.sort(key=len, reverse=True)
    best = None
    for size in sorted({min(b, len(rows)) for b in batch_sizes}):
        sync()
        start = time.perf_counter()
        prefix = model(
            input_ids=torch.tensor([rows[0][:n]], device=model.device), use_cache=True, logits_to_keep=1
        ).cache
        sync()
        after_prefix = time.perf_counter()
        for i in range(0, len(rows), size):
            batch = rows[i : i + size]
            width = len(batch[0]) - n
            ids = torch.tensor([r[n:] + [0] * (width - len(r) + n) for r in batch], device=model.device)
            mask = torch.tensor([[1] * len(r) + [0] * (width - len(r) + n) for r in batch], device=model.device)
            cache = copy.deepcopy(prefix)
            cache.batch_repeat_interleave(len(batch))
            model(input_ids=ids, attention_mask=mask, cache=cache, use_cache=True, logits_to_keep=1)
        sync()
        end = time.perf_counter()
        if best is None or end - start < best[0]:
            best = (end - start, end - after_prefix, size)
    return best


def agreement(a: list[list], b: list[list]) -> tuple[float, int]:
    """Share of (document, field) values equal, and documents with any difference."""
    same = sum(x == y for ra, rb in zip(a, b) for x, y in zip(ra, rb))
    return same / sum(len(r) for r in a), sum(ra != rb for ra, rb in zip(a, b))


def ablations(backend, spec: dict, cell, route) -> None:
    """Generate mode with each of the backend's decoding choices undone, one at
    a time, and score mode with its prompts read in other groups (pairs, or
    the whole batch where pairs are the default), against the defaults, on
    the same documents in this process."""
    task, docs = cell.task, cell.evaluated

    def timed(b, t=task):
        b.forget()
        start = time.perf_counter()
        result = pipeline.run_cell(replace(cell, task=t), b, route)
        return len(docs) / (time.perf_counter() - start), [[p.pred[k] for k in t.keys] for p in result.predictions]

    base, base_pred = timed(backend)
    print(f"  ablations, generate mode: default {base:.3f} docs/s")

    def report(label, speed, pred, base=base, base_pred=base_pred):
        same, differ = agreement(base_pred, pred)
        print(
            f"    {label:44s} {speed:7.3f} docs/s  default/this = {base / speed:4.2f}x  "
            f"same answers: {same:.1%} of fields"
        )

    groups = backend.prefill_batch_size
    other_groups = 2 if groups == backend.batch_size else backend.batch_size
    regrouped = backend.with_options(prefill_batch_size=other_groups)
    report(f"prompts read {other_groups} rows a pass, not {groups}", *timed(regrouped))
    report("no drafts (one token per step)", *timed(backend.with_options(draft_tokens=0)))
    if backend.device.type == "cpu":
        os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] = "0"  # transformers copies key/value head groups again
        report("key/value heads copied before attention", *timed(backend))
        os.environ["TRANSFORMERS_SDPA_FORCE_GQA"] = "1"
    other = "float32" if backend.model.dtype == torch.bfloat16 else "bfloat16"
    report(
        f"{other} instead of {str(backend.model.dtype).removeprefix('torch.')}",
        *timed(load_backend({**spec, "dtype": other})),
    )

    score_task = replace(task, mode="score")
    base_score = timed(backend, score_task)
    print(f"  ablations, score mode: default {base_score[0]:.3f} docs/s")
    report(f"prompts read {other_groups} rows a pass, not {groups}", *timed(regrouped, score_task), *base_score)


def bench_route(route: str, args, peak: float) -> dict:
    register()
    overrides = [
        "+experiment=reference_study",
        "split.evaluate=test",
        f"model={args.model}",
        f"route={route}",
        f"prompt.shots={args.shots}",
        f"dataset={args.dataset}",
        f"dataset.limit={args.docs}",
        f"model.backend.dtype={args.dtype}",
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        conf, _ = typed(compose(config_name="config", overrides=overrides))
        # The same documents, each shown the pool examples most like it (prompt.selection=knn).
        knn_cell = prepare(typed(compose(config_name="config", overrides=[*overrides, "prompt.selection=knn"]))[0])
    cell, (backend, reader) = prepare(conf), components(conf)
    read = reader.read(cell.shots + cell.evaluated, cell.language).documents  # as the model reads them
    shots, docs = read[: len(cell.shots)], read[len(cell.shots) :]
    if args.batch_size:
        backend = backend.with_options(batch_size=args.batch_size)
    n_params = sum(p.numel() for p in backend.model.parameters())
    generate_task, score_task = cell.task, replace(cell.task, mode="score")
    requests = pipeline.build_requests(generate_task, shots, docs)
    print(
        f"\n== route={route}: {len(docs)} documents of {args.dataset}, {args.shots} shots, model {args.model} "
        f"({n_params / 1e6:,.0f}M parameters, batch {backend.batch_size}), prompts of "
        f"{min(len(backend.tokenizer(backend.render(r)).input_ids) for r in requests)}-"
        f"{max(len(backend.tokenizer(backend.render(r)).input_ids) for r in requests)} tokens"
    )

    # Warm-up, untimed: one short generation each way, one scoring pass.
    study_way(backend, requests[:1], 1)
    for task in (generate_task, score_task):
        pipeline.run_cell(replace(cell, task=task, evaluated=cell.evaluated[:1]), backend, reader)

    results = {}

    def timed(name, label, run, backend_used, mode_task=None):
        with PeakMemory() as mem:
            start = time.perf_counter()
            out = run()
            elapsed = time.perf_counter() - start
        r = dict(label=label, s=elapsed, mem=mem, backend=backend_used)
        if mode_task is None:  # (a), (d): answers to parse with the study's parser, and the tokens processed
            answers, r["tokens"] = out
            r["pred"] = [parsing.parse_study(t, generate_task.names) for t in answers]
        else:
            stats = backend_used.stats
            r["tokens"] = stats["prefix_tokens"] + stats["prompt_tokens"] + stats["gen_tokens"]
            r["pred"] = [[p.pred[k] for k in mode_task.keys] for p in out.predictions]
            r["logged"] = {
                k: v for k, v in out.metrics.items() if k.split("/")[0] in ("time", "latency", "throughput", "gpu")
            }
        results[name] = r

    def harness_way(b, task, c=cell):
        def run():
            b.forget()  # no head start from the warm-up: prefix and tokenizing are inside the timing
            return pipeline.run_cell(replace(c, task=task), b, reader)

        return run

    timed("a", "study pipeline", lambda: study_way(backend, requests, args.study_batch), backend)
    timed("b", "harness generate", harness_way(backend, generate_task), backend, generate_task)
    timed("c", "harness score", harness_way(backend, score_task), backend, score_task)
    timed("bk", "  knn examples", harness_way(backend, generate_task, knn_cell), backend, generate_task)
    timed("ck", "  knn examples", harness_way(backend, score_task, knn_cell), backend, score_task)
    spec = llamacpp_spec(args, overrides)
    if spec is not None:
        # As configured (no drafts, no flash attention: create_chat_completion's
        # tokens), and with the faster settings.
        llama = load_backend(spec)
        fast = load_backend({**spec, "draft_tokens": args.llamacpp_drafts, "flash_attn": True})
        warm = replace(cell, evaluated=cell.evaluated[:1])
        llamacpp_by_hand(llama, requests[:1])  # warm-up, untimed
        for b, task in itertools.product((llama, fast), (generate_task, score_task)):
            pipeline.run_cell(replace(warm, task=task), b, reader)
        timed("d", "llama.cpp by hand", lambda: llamacpp_by_hand(llama, requests), llama)
        timed("e", "llama.cpp generate", harness_way(llama, generate_task), llama, generate_task)
        timed("e+", "  drafts, flash attn", harness_way(fast, generate_task), fast, generate_task)
        timed("es", "llama.cpp score", harness_way(llama, score_task), llama, score_task)
        timed("es+", "  flash attn", harness_way(fast, score_task), fast, score_task)
        timed("ek", "  knn examples", harness_way(llama, generate_task, knn_cell), llama, generate_task)
        timed("esk", "  knn examples", harness_way(llama, score_task, knn_cell), llama, score_task)

    for name, r in results.items():
        line = f"{'(' + name + ')':5s} {r['label']:20s} {len(docs) / r['s']:7.3f} docs/s  {r['s']:7.1f} s  "
        if r["backend"] is backend:
            flops = 2 * n_params * r["tokens"] / r["s"]
            line += f"{flops / 1e9:7.1f} GFLOP/s = {flops / peak:5.1%} of peak  "
        print(
            line
            + str(r["mem"])
            + (
                f"  same fields as (a): {agreement(results['a']['pred'], r['pred'])[0]:.1%}"
                if name != "a" and not name.endswith("k")  # knn examples: another prompt
                else ""
            )
        )
        if "logged" in r:  # what the run itself logs to MLflow
            print("    logged: " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(r["logged"].items())))
    ab, ab_docs = agreement(results["a"]["pred"], results["b"]["pred"])
    bc, bc_docs = agreement(results["b"]["pred"], results["c"]["pred"])
    speed = {k: len(docs) / r["s"] for k, r in results.items()}
    print(f"b/a = {speed['b'] / speed['a']:.1f}x   c/a = {speed['c'] / speed['a']:.1f}x")
    print(
        f"knn examples against one draw for all: generate bk/b = {speed['bk'] / speed['b']:.2f}x, "
        f"score ck/c = {speed['ck'] / speed['c']:.2f}x"
        + (
            f"; llama.cpp ek/e = {speed['ek'] / speed['e']:.2f}x, esk/es = {speed['esk'] / speed['es']:.2f}x"
            if spec is not None
            else ""
        )
    )
    exact = backend.model.dtype == torch.float32
    why = (
        "greedy decoding must agree"
        if exact
        else f"{backend.model.dtype}: rounding differs between batch layouts; --dtype float32 checks exactness"
    )
    print(f"agreement (a)-(b): {ab:.1%} of fields, {ab_docs} documents differ" + (f"  ({why})" if ab_docs else ""))
    print(f"agreement (b)-(c): {bc:.1%} of fields, {bc_docs} documents differ")
    if spec is not None:
        de, de_docs = agreement(results["d"]["pred"], results["e"]["pred"])
        dp, dp_docs = agreement(results["d"]["pred"], results["e+"]["pred"])
        print(
            f"llama.cpp: e/d = {speed['e'] / speed['d']:.2f}x  (e+)/d = {speed['e+'] / speed['d']:.2f}x   "
            f"score over transformers': es/c = {speed['es'] / speed['c']:.2f}x  (es+)/c = "
            f"{speed['es+'] / speed['c']:.2f}x   d/a = {speed['d'] / speed['a']:.2f}x"
        )
        print(
            f"agreement (d)-(e): {de:.1%} of fields, {de_docs} documents differ"
            + ("  <- the same greedy tokens must agree" if de_docs else "")
        )
        print(
            f"agreement (d)-(e+): {dp:.1%} of fields, {dp_docs} documents differ (drafts are read with other "
            "tokens and flash attention sums in another order: llama.cpp's logits move, near-ties can flip)"
        )
    # How far any method that reads every prompt token could go here: the study's
    # time over the least forward computation (score mode also reads its template).
    least, without_prefix, size = least_forward_s(backend, requests)
    score_requests = pipeline.build_requests(score_task, shots, docs)
    with_template, _, _ = least_forward_s(backend, score_requests)
    own = [len(backend.tokenizer(backend.render(r)).input_ids) for r in requests]
    template = len(backend.tokenizer(score_requests[0].score.text, add_special_tokens=False).input_ids)
    print(
        f"bound: one forward pass over the shared prefix and each prompt once (batch {size}) takes {least:.2f} s "
        f"= {results['a']['s'] / least:.1f}x the study's pipeline; with the prefix free (a long run) "
        f"{results['a']['s'] / without_prefix:.1f}x. Score mode runs at {least / results['c']['s']:.0%} of it."
    )
    print(
        f"score mode's template: {template} tokens a document after prompts of {min(own)}-{max(own)} tokens; "
        f"the same pass with the template read too takes {with_template:.2f} s: score mode runs at "
        f"{with_template / results['c']['s']:.0%} of that, and the template alone leaves it "
        f"{least / with_template:.0%} of the bound"
    )
    if args.ablations:
        ablations(backend, conf.model.backend, cell, reader)
    return {
        "b/a": speed["b"] / speed["a"],
        "c/a": speed["c"] / speed["a"],
        "a-b documents differ": ab_docs,
        **({"e/d": speed["e"] / speed["d"], "es/c": speed["es"] / speed["c"]} if spec is not None else {}),
    }


def bench_reading(route: str, docs: int, args, folder: Optional[Path] = None) -> None:
    """Score mode against what the study's pipeline spends reading the same
    prompts (one new token) and against the bound with the template read
    (--reading-only; --random: on a random-weights model in `folder`)."""
    register()
    weights = [f"model.backend.path={folder}", "++model.backend.gguf_file=null"] if folder else []
    overrides = [
        "+experiment=reference_study",
        "split.evaluate=test",
        f"model={args.model}",
        *weights,
        f"model.backend.dtype={args.dtype}",
        f"route={route}",
        f"prompt.shots={args.shots}",
        f"dataset={args.dataset}",
        f"dataset.limit={docs}",
        "prompt.mode=score",
    ]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        conf, _ = typed(compose(config_name="config", overrides=overrides))
        knn_cell = prepare(typed(compose(config_name="config", overrides=[*overrides, "prompt.selection=knn"]))[0])
    cell, (backend, reader) = prepare(conf), components(conf)
    read = reader.read(cell.shots + cell.evaluated, cell.language).documents
    shots, evaluated = read[: len(cell.shots)], read[len(cell.shots) :]
    requests = pipeline.build_requests(cell.task, shots, evaluated)
    n_params = sum(p.numel() for p in backend.model.parameters())
    own = [len(backend.tokenizer(backend.render(r)).input_ids) for r in requests]
    print(
        f"\n== {args.model}{', random weights' if folder else ''} ({n_params / 1e6:,.1f}M parameters, "
        f"{backend.model.dtype}), "
        f"route={route}: {len(evaluated)} documents, {args.shots} shots, prompts of {min(own)}-{max(own)} tokens"
    )
    study_way(backend, requests[:2], args.study_batch, 1)  # warm-up, untimed
    pipeline.run_cell(replace(cell, evaluated=cell.evaluated[:2]), backend, reader)
    seconds = {}

    def timed(name: str, label: str, run) -> None:
        with PeakMemory() as mem:
            start = time.perf_counter()
            run()
            seconds[name] = time.perf_counter() - start
        print(  # tokens/s: the prompts' tokens as each document reads them, the same count for every side
            f"({name}) {label:30s} {len(evaluated) / seconds[name]:8.2f} docs/s  "
            f"{sum(own) / seconds[name]:10,.0f} prompt tokens/s  {seconds[name]:6.2f} s  {mem}"
        )

    # The harness and the bound before transformers' pipeline: after it has run,
    # the same passes were 1.2x slower in this process (allocator state).
    timed("c", "harness score", lambda: _score(backend, cell, reader))
    timed("ck", "  knn examples", lambda: _score(backend, knn_cell, reader))
    sizes = (16, 32) if backend.device.type == "cuda" else (1, 2, 4, 8)
    with_template, _, size = least_forward_s(backend, requests, sizes)
    timed("a1", "study pipeline, prompts only", lambda: study_way(backend, requests, args.study_batch, 1))
    print(
        f"c/a1 = {seconds['a1'] / seconds['c']:.1f}x (score mode against the study's prompt reading alone)   "
        f"ck/c = {seconds['c'] / seconds['ck']:.2f}x   bound (batch {size}, template read too) {with_template:.2f} s: "
        f"score mode at {with_template / seconds['c']:.0%} of it"
    )


def _score(backend, cell, reader) -> None:
    backend.forget()  # no head start from the warm-up: prefix and tokenizing are inside the timing
    pipeline.run_cell(cell, backend, reader)


def random_folder(args, device: torch.device, dtype: str, into: Path) -> Path:
    """The model config's architecture with random weights (harness.families),
    real size where families.REAL has it, with a tokenizer trained on the
    dataset's transcripts and translations."""
    from harness import families

    register()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        conf, _ = typed(compose(config_name="config", overrides=[f"model={args.model}", f"dataset={args.dataset}"]))
    documents = prepare(conf).documents
    tok = families.tokenizer([d.text for d in documents] + [d.reference or "" for d in documents])
    if args.random == "real" and args.model not in families.REAL:
        sys.exit(f"throughput: --random real knows the sizes of {', '.join(families.REAL)}, not {args.model}")
    size = args.model if args.random == "real" else None
    start = time.perf_counter()
    folder = families.build(conf.model.family, into, tok, size=size, dtype=dtype, device=device.type)
    print(f"random weights: {conf.model.family} ({size or 'tiny'}) built in {time.perf_counter() - start:.1f} s")
    return folder


def llamacpp_spec(args, overrides):
    """The harness's llama.cpp backend for the same GGUF file (model config
    `<model>-llamacpp`), or None where llama-cpp-python or the config is missing."""
    name = args.llamacpp_model or f"{args.model}-llamacpp"
    if (
        args.no_llamacpp
        or importlib.util.find_spec("llama_cpp") is None
        or not (ROOT / "conf" / "model" / f"{name}.yaml").is_file()
    ):
        print(f"(d), (e): skipped (--no-llamacpp, no llama-cpp-python, or no conf/model/{name}.yaml)")
        return None
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        conf, _ = typed(
            compose(
                config_name="config",
                overrides=[
                    *(o for o in overrides if not o.startswith(("model=", "model.backend.dtype="))),
                    f"model={name}",
                ],
            )
        )
    return conf.model.backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dataset", default="demo_fa")
    parser.add_argument("--routes", default="native,reference")
    parser.add_argument("--docs", default="8", help="documents; with --random, a list (32,128)")
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--study-batch", type=int, default=4, help="the study pipeline's batch size")
    parser.add_argument("--batch-size", type=int, default=None, help="the harness's (default: the backend's auto)")
    parser.add_argument(
        "--dtype",
        default="auto",
        help="model.backend.dtype (auto: bfloat16 on CUDA and on CPUs with native bf16, else float32)",
    )
    parser.add_argument(
        "--llamacpp-model", default=None, help="the llama.cpp model config for (d) and (e) (default: <model>-llamacpp)"
    )
    parser.add_argument(
        "--llamacpp-drafts", type=int, default=24, help="draft tokens for (e+), the llama.cpp backend's faster settings"
    )
    parser.add_argument("--no-llamacpp", action="store_true", help="skip (d) and (e)")
    parser.add_argument(
        "--ablations",
        action="store_true",
        help="also time generate mode with each decoding choice undone (rows a pass reads "
        "prompts, drafts, in-place attention heads on CPU, the dtype) and score mode with "
        "prompts read in other groups",
    )
    parser.add_argument(
        "--random",
        choices=("real", "tiny"),
        default=None,
        help="the model config's architecture with random weights, no download: score mode and prompt reading only",
    )
    parser.add_argument(
        "--reading-only",
        action="store_true",
        help="only what reads prompts: score mode (c, ck), the study's pipeline writing one token (a1), the bound",
    )
    args = parser.parse_args()
    args.docs_list = [int(d) for d in args.docs.split(",")]
    args.docs = args.docs_list[0]

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, default_dtype(device) if args.dtype == "auto" else args.dtype)
    peak = matmul_peak_flops(device, dtype)
    print(
        f"device {device} ({torch.get_num_threads()} threads), measured matmul peak {peak / 1e9:,.1f} GFLOP/s "
        f"({dtype}); model FLOPs counted as 2 x parameters x tokens processed (attention excluded)"
    )
    if args.random:
        import shutil
        import tempfile

        shm = Path("/dev/shm")  # weights written and read back at memory speed where there is room
        roomy = shm.is_dir() and shutil.disk_usage(shm).free > 40 * 2**30
        with tempfile.TemporaryDirectory(dir=shm if roomy else None) as tmp:
            folder = random_folder(args, device, str(dtype).removeprefix("torch."), Path(tmp))
            for docs in args.docs_list:
                for route in args.routes.split(","):
                    bench_reading(route, docs, args, folder)
        return
    if args.reading_only:
        for docs in args.docs_list:
            for route in args.routes.split(","):
                bench_reading(route, docs, args)
        return
    summary = {route: bench_route(route, args, peak) for route in args.routes.split(",")}
    print(
        "\nsummary: "
        + "; ".join(
            f"{route}: generate {s['b/a']:.1f}x, score {s['c/a']:.1f}x the study's pipeline"
            for route, s in summary.items()
        )
    )
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
