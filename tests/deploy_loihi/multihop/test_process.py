"""MultiHopRecall Process interface, timing helpers and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.multihop.process import MultiHopRecall, code_step, memory_step, num_steps_for  # noqa: E402

pytestmark = pytest.mark.lava

D, N, K, M = 8, 16, 3, 4


def _args(**over):
    rng = np.random.default_rng(0)
    args = dict(
        vectors=rng.standard_normal((2, D)),
        projection=rng.choice([-1, 1], size=(N, D)),
        stored_winners=np.stack([np.arange(K) + 3 * i for i in range(M)]),
        weights=np.zeros((N, N), int),
        k=K,
        hops=2,
    )
    args.update(over)
    return args


def test_vars_and_timing():
    p = MultiHopRecall(**_args())
    assert p.num_steps == num_steps_for(2, 2) == memory_step(1, 2)
    assert code_step(0, 0) == 2 and memory_step(0, 0) == 3 and code_step(0, 1) == 5
    for t in range(3):
        assert getattr(p, f"code_winners_{t}").shape == (p.num_steps, K)
        assert getattr(p, f"memory_winners_{t}").shape == (p.num_steps, 1)


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"vectors": np.zeros(D)}, "vectors must be"),
        ({"projection": np.zeros((N, D))}, "projection must be"),
        ({"k": 0}, "k must be"),
        ({"hops": 0}, "hops must be"),
        ({"w_cap": 0}, "w_cap must be"),
        ({"stored_winners": np.full((M, K), N)}, "stored_winners"),
        ({"stored_winners": np.zeros((M, K), int)}, "distinct"),
        ({"weights": np.full((N, N), 300)}, "weights must be"),
        ({"num_message_bits": 30}, "num_message_bits"),
    ],
)
def test_bad_arguments(over, match):
    with pytest.raises(ValueError, match=match):
        MultiHopRecall(**_args(**over))
