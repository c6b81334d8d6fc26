"""Interfaces and argument checks of the recall network's Processes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.concept_layer.process import ConceptLayer  # noqa: E402
from deploy_loihi.memory_layer.process import MemoryLayer  # noqa: E402
from deploy_loihi.ranked_readout.process import RankedReadout  # noqa: E402

pytestmark = pytest.mark.lava


def _memory_kwargs(**over):
    kw = {"shape": (4,), "key_owner": np.array([0, 1, 2, 3, 3]), "link_width": 2,
          "linked": np.array([True, False, True, False]), "list_weights": np.array([1.0, 0.3]),
          "recall": {"depth": 3}, "k": 2, "fanout_link": np.zeros(4, dtype=int), "fanout_walk": np.ones(4, dtype=int)}
    kw.update(over)
    return kw


def test_memory_layer_ports():
    m = MemoryLayer(**_memory_kwargs())
    assert m.a_key.shape == (5,) and m.a_link.shape == (8,) and m.a_walk.shape == (4,) and m.s_out.shape == (4,)
    assert m.spikes.init == 0


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"key_owner": np.array([0, 4])}, "key_owner"),
        ({"key_owner": np.array([], dtype=int)}, "at least one key"),
        ({"link_width": 0}, "link_width"),
        ({"linked": np.ones(3, dtype=bool)}, "linked"),
        ({"list_weights": np.array([np.nan])}, "list_weights"),
        ({"k": 5}, "k must be"),
        ({"fanout_walk": np.ones(3, dtype=int)}, "fanout"),
        ({"shape": (0,)}, "shape"),
    ],
)
def test_memory_layer_bad_arguments(over, match):
    with pytest.raises(ValueError, match=match):
        MemoryLayer(**_memory_kwargs(**over))


def test_concept_layer():
    c = ConceptLayer(shape=(6,), lists=3, recall={}, fanout=np.arange(6))
    assert c.a_in.shape == c.a_query.shape == c.s_out.shape == (6,)
    with pytest.raises(ValueError, match="lists"):
        ConceptLayer(shape=(6,), lists=0, recall={}, fanout=np.arange(6))
    with pytest.raises(ValueError, match="fanout"):
        ConceptLayer(shape=(6,), lists=1, recall={}, fanout=-np.ones(6, dtype=int))


def test_ranked_readout():
    r = RankedReadout(shape=(5,), k=3, period=9, offset=9, questions=2)
    assert r.ids.shape == (2, 3) and r.ids.init == -1
    for kw, match in [({"k": 6}, "k must be"), ({"offset": 10}, "offset"), ({"questions": 0}, "questions")]:
        args = {"shape": (5,), "k": 3, "period": 9, "offset": 9, "questions": 2, **kw}
        with pytest.raises(ValueError, match=match):
            RankedReadout(**args)
