"""prompt.selection=knn and model=knn-vote: each document's examples are the
pool documents most like it as its route reads it, the most similar last;
none is a dev or test document, none the document itself; the vote is the
neighbours' labels weighted by their similarity."""

import json
from dataclasses import replace

import pytest

from harness import neighbours, tracking
from harness.backends import load_backend
from harness.backends.knn_vote import vote
from harness.cell import prepare, route_of
from harness.errors import HarnessError
from harness.pipeline import run_cell
from harness.plan import plan
from harness.records import Document

from .conftest import composed


def doc(id_: str, text: str, **labels: bool) -> Document:
    return Document(id=id_, text=text, labels=labels)


def test_the_most_similar_comes_last_ties_by_id_and_never_the_document_itself():
    pool = [
        doc("b", "fever and a dry cough"),
        doc("a", "fever and a dry cough"),
        doc("c", "a broken leg, much pain"),
        doc("d", "fever since monday"),
    ]
    near = neighbours.nearest(pool, [doc("q", "fever and a dry cough at night")], 3)["q"]
    assert [d.id for d, _ in near] == ["d", "b", "a"]  # a and b tie: a ranks first by id, so it goes last
    assert near[0][1] < near[1][1] == near[2][1]
    assert [d.id for d in neighbours.examples(pool, [pool[1]], 2)["a"]] == ["d", "b"]  # not itself


def test_the_vote_weighs_each_neighbours_labels_by_its_similarity():
    near = [(doc("x", "", fever=True, pain=False), 0.6), (doc("y", "", fever=False, pain=False), 0.2)]
    assert vote(near, ["fever", "pain"]) == pytest.approx({"fever": 0.75, "pain": 0.0})
    unrelated = [(doc("x", "", fever=True), 0.0), (doc("y", "", fever=False), 0.0)]
    assert vote(unrelated, ["fever"]) == {"fever": 0.5}  # nothing shared: the plain vote


@pytest.mark.parametrize("route, evaluate", [("native", "test"), ("native", "all"), ("reference", "test")])
def test_each_document_gets_its_own_examples_from_the_pool_as_the_route_reads_it(route, evaluate):
    conf, plain = composed(
        "model=scripted", "prompt.selection=knn", f"route={route}", f"split.evaluate={evaluate}", "dataset.limit=30"
    )
    cell = prepare(conf)
    result = run_cell(cell, load_backend(conf.model.backend), route_of(conf))
    pool = {d.id for d in cell.documents if cell.split_of[d.id] == "pool"}
    assert all(len(p.shot_ids) == 3 and set(p.shot_ids) <= pool - {p.doc_id} for p in result.predictions)
    assert len({p.shot_ids for p in result.predictions}) > 1  # chosen per document, not one set for all
    if evaluate == "all":
        assert any(p.doc_id in pool for p in result.predictions)  # pool documents scored, never their own example

    # The same neighbours from the texts this route reads (the reference route: the English references).
    read = (lambda d: replace(d, text=d.reference)) if route == "reference" else (lambda d: d)
    first = cell.evaluated[0]
    expected = neighbours.examples([read(d) for d in cell.pool], [read(first)], 3)[first.id]
    assert result.predictions[0].shot_ids == tuple(d.id for d in expected)
    positions = [result.example_prompt.index(d.text) for d in expected]
    assert positions == sorted(positions)  # in the prompt in that order: the most similar next to the query

    rows = [json.loads(line) for line in tracking.predictions_jsonl(result, "full").splitlines()]
    assert [tuple(r["shot_ids"]) for r in rows] == [p.shot_ids for p in result.predictions]
    ran = plan(conf, plain)
    assert ran.name == f"scripted|{route}|3shot|knn" and ran.params["shots"] == 3


def test_nearest_first_reverses_the_examples_and_is_a_cell_of_its_own():
    """prompt.knn_order=nearest_first: the same neighbours, the most similar
    first in the prompt; a cell of its own name and identity, while the
    default order is no setting (knn cells logged before it keep their hash)."""
    last, last_plain = composed("model=scripted", "prompt.selection=knn", "dataset.limit=4")
    first, first_plain = composed(
        "model=scripted", "prompt.selection=knn", "prompt.knn_order=nearest_first", "dataset.limit=4"
    )
    backend = load_backend(last.model.backend)
    a, b = (run_cell(prepare(c), backend, route_of(c)) for c in (last, first))
    assert [p.shot_ids[::-1] for p in a.predictions] == [p.shot_ids for p in b.predictions]
    cell = prepare(first)
    (near,) = neighbours.nearest(cell.pool, cell.evaluated[:1], 3).values()
    most_similar = near[-1][0]
    assert b.predictions[0].shot_ids[0] == most_similar.id
    positions = [b.example_prompt.index(t) for t in b.example_texts]
    assert positions == sorted(positions) and b.example_texts[0] == most_similar.text  # first in the prompt

    p_last, p_first = plan(last, last_plain), plan(first, first_plain)
    assert p_first.name == "scripted|native|3shot|knn|nearest_first" and p_last.name == "scripted|native|3shot|knn"
    assert p_first.cell_hash != p_last.cell_hash
    plain_before = {**last_plain, "prompt": {k: v for k, v in last_plain["prompt"].items() if k != "knn_order"}}
    assert plan(last, plain_before).cell_hash == p_last.cell_hash  # the default order is no setting


def test_knn_needs_a_number_of_examples_the_pool_can_give():
    conf, _ = composed("model=scripted", "prompt.selection=knn", "prompt.shots=0")
    with pytest.raises(HarnessError, match="prompt.selection=knn needs 1 <= prompt.shots"):
        prepare(conf)


def test_knn_vote_reads_the_pools_labels_only():
    """Inverting every pool label turns each P(true) into 1 - P(true);
    inverting the dev and test labels changes none."""
    conf, _ = composed("model=knn-vote", "dataset.limit=20")
    cell = prepare(conf, reads_prompt=False)

    def probs(c):
        return [p.prob for p in run_cell(c, load_backend(conf.model.backend), route_of(conf)).predictions]

    def flipped(splits):
        def flip(d):
            return replace(d, labels={k: not v for k, v in d.labels.items()}) if cell.split_of[d.id] in splits else d

        return replace(cell, evaluated=[flip(d) for d in cell.evaluated], pool=[flip(d) for d in cell.pool])

    base = probs(cell)
    assert base == probs(flipped({"dev", "test"}))
    inverse = probs(flipped({"pool"}))
    assert all(b[k] == pytest.approx(1 - i[k]) for b, i in zip(base, inverse) for k in b)


def test_knn_vote_needs_a_neighbour():
    from harness.backends.knn_vote import KnnVoteBackend

    with pytest.raises(HarnessError, match="model.backend.k=0 must be >= 1"):
        KnnVoteBackend(k=0)
