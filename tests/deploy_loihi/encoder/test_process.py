"""GradedEncoder Process interface and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.encoder.process import GradedEncoder  # noqa: E402

pytestmark = pytest.mark.lava


def test_quantised_payload_matches_production_quantiser():
    torch = pytest.importorskip("torch")
    from hybrid.functional import quantize_unit

    x = np.random.default_rng(0).standard_normal((5, 32))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # embeddings are float32
    enc = GradedEncoder(vectors=x, period=2)
    assert enc.s_out.shape == (32,)
    assert np.array_equal(enc.qdata.get(), quantize_unit(torch.from_numpy(x)).numpy()), "16-bit default"
    legacy = GradedEncoder(vectors=x, period=2, num_message_bits=8)
    assert np.array_equal(legacy.qdata.get(), quantize_unit(torch.from_numpy(x), 127).numpy()), "8-bit legacy"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vectors": np.zeros(3), "period": 1}, "vectors must be"),
        ({"vectors": np.full((1, 3), np.nan), "period": 1}, "NaN"),
        ({"vectors": np.zeros((1, 3)), "period": 0}, "period"),
        ({"vectors": np.zeros((1, 3)), "period": 1, "num_message_bits": 1}, "num_message_bits"),
        ({"vectors": np.zeros((1, 3)), "period": 1, "num_message_bits": 25}, "num_message_bits"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GradedEncoder(**kwargs)
