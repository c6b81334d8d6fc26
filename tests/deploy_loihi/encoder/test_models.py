"""GradedEncoder models send cue b at step 1 + b·period and zeros otherwise."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.encoder.process import GradedEncoder  # noqa: E402
from deploy_loihi.fixed import DEFAULT_MESSAGE_BITS, quantize_graded  # noqa: E402
from deploy_loihi.network import Precision, _run  # noqa: E402

pytestmark = [pytest.mark.lava, pytest.mark.timeout(120)]

ATOL_FLOAT = 0.0  # the floating model sends the vector unchanged
PERIOD = 2


@pytest.mark.parametrize("precision", list(Precision))
def test_schedule_and_payload(precision):
    from lava.proc.monitor.process import Monitor

    x = np.array([[0.5, -1.0, 0.25], [0.1, 0.2, -0.3]])
    enc = GradedEncoder(vectors=x, period=PERIOD)
    mon = Monitor()
    steps = 5
    mon.probe(enc.s_out, steps)
    data, _ = _run(enc, steps, precision, lambda: mon.get_data())
    sent = np.asarray(data[enc.name]["s_out"])
    want = np.zeros((steps, 3))
    payload = x if precision is Precision.FLOATING else quantize_graded(x, DEFAULT_MESSAGE_BITS)
    want[0], want[PERIOD] = payload
    np.testing.assert_allclose(sent, want, atol=ATOL_FLOAT, err_msg=f"{precision.value} schedule/payload")
