"""KWTA Process interface and bad arguments."""

from __future__ import annotations

import pytest

pytest.importorskip("lava")
from deploy_loihi.kwta.process import KWTA  # noqa: E402

pytestmark = pytest.mark.lava


def test_ports_and_vars():
    p = KWTA(shape=(10,), k=3, max_burst=2, positive_only=True)
    assert p.a_in.shape == (10,) and p.s_out.shape == (10,)
    assert p.k.get() == 3 and p.max_burst.get() == 2 and p.positive_only.get() == 1
    assert p.a.shape == (10,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (10,), "k": 0}, "k must be"),
        ({"shape": (10,), "k": 11}, "k must be"),
        ({"shape": (10,), "k": 2.5}, "k must be"),
        ({"shape": (10, 2), "k": 1}, "shape must be"),
        ({"shape": 10, "k": 1}, "shape must be"),
        ({"shape": (0,), "k": 1}, "shape must be"),
        ({"shape": (10,), "k": 1, "max_burst": -1}, "max_burst"),
        ({"shape": (10,), "k": 1, "positive_only": 1}, "positive_only"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KWTA(**kwargs)
