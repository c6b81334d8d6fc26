"""ThresholdKWTA Process interface, step counts and bad arguments."""

from __future__ import annotations

import pytest

pytest.importorskip("lava")
from deploy_loihi.kwta_dynamics.process import ThresholdKWTA, index_bits_for, search_steps  # noqa: E402

pytestmark = pytest.mark.lava


def test_ports_vars_and_steps():
    p = ThresholdKWTA(shape=(2048,), k=16, value_bits=21)
    assert p.a_in.shape == (2048,) and p.s_out.shape == (2048,)
    assert p.k.get() == 16 and p.value_bits.get() == 21 and p.tie_break.get() == 1
    assert index_bits_for(2048) == 12 and index_bits_for(2047) == 11 and index_bits_for(1) == 1
    assert p.num_steps_per_search == search_steps(2048, 21) == 21 + 12
    assert search_steps(2048, 6, 18, tie_break=False) == 24


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (10,), "k": 0}, "k must be"),
        ({"shape": (10,), "k": 11}, "k must be"),
        ({"shape": (10, 2), "k": 1}, "shape must be"),
        ({"shape": (10,), "k": 1, "value_bits": 1}, "value_bits"),
        ({"shape": (10,), "k": 1, "value_bits": 25}, "value_bits"),
        ({"shape": (10,), "k": 1, "frac_bits": -1}, "frac_bits"),
        ({"shape": (10,), "k": 1, "tie_break": 1}, "tie_break"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ThresholdKWTA(**kwargs)
