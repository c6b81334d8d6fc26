"""WinnerReadout Process interface and bad arguments."""

from __future__ import annotations

import pytest

pytest.importorskip("lava")
from deploy_loihi.readout.process import WinnerReadout  # noqa: E402

pytestmark = pytest.mark.lava


def test_vars():
    r = WinnerReadout(shape=(6,), k=2, num_steps=4)
    assert r.s_in.shape == (6,) and r.winners.shape == (4, 2) and r.counts.shape == (4,)
    assert r.winners.init == -1 and r.total_spikes.init == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (6,), "k": 0, "num_steps": 1}, "k must be"),
        ({"shape": (6,), "k": 7, "num_steps": 1}, "k must be"),
        ({"shape": (6,), "k": 1, "num_steps": 0}, "num_steps"),
        ({"shape": (6, 1), "k": 1, "num_steps": 1}, "shape must be"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WinnerReadout(**kwargs)
