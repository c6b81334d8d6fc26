"""WinnerReadout models record exactly which neurons spiked on each step."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.encoder.process import GradedEncoder  # noqa: E402
from deploy_loihi.network import Precision, _run  # noqa: E402
from deploy_loihi.readout.process import WinnerReadout  # noqa: E402

pytestmark = [pytest.mark.lava, pytest.mark.timeout(120)]

K_SLOTS = 2


@pytest.mark.parametrize("precision", list(Precision))
def test_records_spikes(precision):
    spikes = np.array([[0, 1, 0, 1, 1], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=float)
    enc = GradedEncoder(vectors=spikes, period=1, num_message_bits=2)
    ro = WinnerReadout(shape=(5,), k=K_SLOTS, num_steps=3)
    enc.s_out.connect(ro.s_in)
    (winners, counts, total), _ = _run(
        ro, 4, precision, lambda: (ro.winners.get(), ro.counts.get(), ro.total_spikes.get())
    )
    assert winners.tolist() == [[1, 3], [-1, -1], [0, -1]], "first k spiking indices per step, -1 padded"
    assert counts.tolist() == [3, 0, 1] and int(total[0]) == 4
