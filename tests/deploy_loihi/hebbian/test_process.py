"""HebbianAssociation Process interface, learning rule and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.hebbian.process import HEBBIAN_DW, HebbianAssociation, hebbian_rule  # noqa: E402

pytestmark = pytest.mark.lava


def test_ports_vars_and_rule():
    h = HebbianAssociation(shape=(3, 5))
    assert h.s_in.shape == (5,) and h.s_in_bap.shape == (3,) and h.a_out.shape == (3,)
    assert h.weights.shape == (3, 5) and not h.weights.get().any()
    rule = hebbian_rule()
    assert rule.dw_str.replace(" ", "") == HEBBIAN_DW.replace(" ", "") and rule.t_epoch == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (3,)}, "shape must be"),
        ({"shape": (3, 0)}, "shape must be"),
        ({"shape": (2, 2), "weights": np.zeros((3, 2))}, "weights must have shape"),
        ({"shape": (2, 2), "weights": np.full((2, 2), 256)}, "integers in"),
        ({"shape": (2, 2), "weights": np.full((2, 2), 0.5)}, "integers in"),
        ({"shape": (2, 2), "t_epoch": 0}, "t_epoch"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HebbianAssociation(**kwargs)
