"""The Lava recall network end to end on a 42-memory store: the Lava run equals its NumPy reference bit for
bit, the floating-point network ranks exactly like ``Memory.search``, the fixed-point one nearly so."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.recall import NetworkConfig, build_layers, reference_network, run_network  # noqa: E402
from deploy_loihi.recall_functional import RecallParams, Schedule, search_length  # noqa: E402
from deploy_loihi.recall_report import agreement  # noqa: E402
from deploy_loihi.recall_weights import encode_queries, from_memory  # noqa: E402

from .conftest import QUESTIONS  # noqa: E402

pytestmark = pytest.mark.lava

#: The floating-point network is the production arithmetic: identical top-10 lists.
MIN_FLOAT_OVERLAP = 1.0
#: Bit-accurate fixed point (8-bit weight slices, 24-bit state) against production.
MIN_FIXED_OVERLAP = 0.9
#: A hung Lava runtime must not hang the suite.
TIMEOUT_S = 120.0


@pytest.fixture
def deployed(recall_memory):
    w = from_memory(recall_memory)
    params = RecallParams.from_config(w.config)
    return recall_memory, w, params, encode_queries(recall_memory, w, QUESTIONS)


def test_weights_read_from_the_store(deployed):
    mem, w, _, inputs = deployed
    assert w.memories == mem.store.count() == 42
    assert w.keys.shape[0] > w.memories, "context keys: several keys per memory"
    assert w.concepts > 0 and w.linked.any(), "concept cells shared between memories"
    assert (w.link_slots >= 0).any(), "sequence links"
    assert inputs.vectors.shape == (len(QUESTIONS), 3, w.keys.shape[1])
    assert inputs.terms.sum() > 0 and inputs.concepts.sum() > 0


@pytest.mark.parametrize(("precision", "stepped"), [("floating_pt", True), ("fixed_pt", True), ("fixed_pt", False)])
def test_lava_equals_reference(deployed, precision, stepped):
    _, w, params, inputs = deployed
    cfg = NetworkConfig(timeout_s=TIMEOUT_S, stepped_search=stepped)
    ref = reference_network(w, inputs, params, precision, cfg)
    got = run_network(w, inputs, params, precision, cfg)
    assert np.array_equal(got.ids, ref.ids), f"{precision}: Lava ranking differs from the NumPy reference"
    assert np.allclose(got.scores, ref.scores, rtol=0, atol=1e-12)
    iterations = search_length(w.memories) if stepped else 0
    period = Schedule(3, params.steps, iterations).period
    assert got.steps == len(QUESTIONS) * period, "one question per schedule period"
    assert got.spikes > 0 and got.syn_events > got.spikes
    assert got.searches == ref.searches


def test_float_ranks_like_production(deployed):
    mem, w, params, inputs = deployed
    prod = mem.search_ids(QUESTIONS, 10)[1]
    ref = reference_network(w, inputs, params, "floating_pt")
    a = agreement(ref.ids, prod)
    assert a["top10_overlap"] >= MIN_FLOAT_OVERLAP and a["top1_agreement"] == 1.0, a
    assert np.array_equal(ref.ids, prod), "same order, ties included"


@pytest.mark.parametrize("parts", [1, 2])
def test_fixed_close_to_production(deployed, parts):
    mem, w, params, inputs = deployed
    prod = mem.search_ids(QUESTIONS, 10)[1]
    cfg = NetworkConfig(key_parts=parts, walk_parts=parts)
    a = agreement(reference_network(w, inputs, params, "fixed_pt", cfg).ids, prod)
    assert a["top10_overlap"] >= MIN_FIXED_OVERLAP, a


def test_fixed_weights_fit_loihi(deployed):
    _, w, _, _ = deployed
    layers = build_layers(w, "fixed_pt", NetworkConfig())
    for name in ("keys", "lexical", "link", "mc", "cm"):
        for wj, _ in getattr(layers, name):
            assert wj.dtype.kind == "i" and -256 <= wj.min() and wj.max() <= 255, name


def test_stages_switched_off_follow_production(deployed):
    """With the concept and link spread off, the network still equals production (the seed lists alone)."""
    from dataclasses import replace

    from hybrid.recall.config import RecallConfig

    mem, w, params, inputs = deployed
    cfg = RecallConfig(concept_spread=0.0, link_spread=0.0)
    prod = mem.search_ids(QUESTIONS, 10, recall=cfg)[1]
    off = replace(params, concept_spread=0.0, link_spread=0.0)
    assert np.array_equal(reference_network(w, inputs, off, "floating_pt").ids, prod)
