"""Exact values of the neuron steps and spike codes on small hand-made inputs, and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from snn import functional as F

ATOL_FP32 = 1e-6

X_HAND = torch.tensor([[0.5, -0.25, 0.0]])


def test_if_step_subtractive_reset():
    z, s = F.if_step(torch.tensor([[0.75, 0.25]]), F.IFState(torch.tensor([[0.5, 0.5]])))
    assert z.tolist() == [[1.0, 0.0]]
    assert torch.allclose(s.v, torch.tensor([[0.25, 0.75]]), atol=ATOL_FP32)


def test_lif_step_matches_snntorch_leaky():
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    cur = torch.rand(30, 4, 8) * 0.6
    leaky = snn.Leaky(beta=0.9, threshold=1.0)
    mem = leaky.init_leaky()
    state = F.LIFState(torch.zeros(4, 8), torch.zeros(4, 8))
    for t in range(30):
        ref, mem = leaky(cur[t], mem)
        z, state = F.lif_step(cur[t], state, beta=0.9, threshold=1.0)
        assert torch.equal(z, ref), f"step {t}: spikes differ from snntorch.Leaky"
        assert torch.allclose(state.v, mem, atol=ATOL_FP32), f"step {t}: membrane differs"


def test_rate_encode_exact():
    z = F.rate_encode(X_HAND, 4, x_max=1.0)
    assert z.shape == (4, 1, 6)
    # ON channel of 0.5: v0=1/2 -> spikes at t=0 and t=2; OFF channel of -0.25: one spike at t=1.
    assert z[:, 0, 0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert z[:, 0, 4].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert z.sum().item() == 3.0
    assert torch.allclose(F.rate_decode(z, 1.0), X_HAND, atol=ATOL_FP32)


def test_rate_signed_mode_exact():
    z = F.rate_encode(X_HAND, 4, x_max=1.0, sign_mode="signed")
    assert z.shape == (4, 1, 3)
    assert z.sum(0).tolist() == [[2.0, -1.0, 0.0]]
    assert torch.allclose(F.rate_decode(z, 1.0, "signed"), X_HAND, atol=ATOL_FP32)


def test_rate_saturates_at_full_scale():
    z = F.rate_encode(torch.tensor([[3.0, -0.5]]), 4, x_max=1.0)
    assert z.sum(0).tolist() == [[4.0, 0.0, 0.0, 2.0]]


def test_latency_encode_exact():
    z = F.latency_encode(X_HAND, 4, x_max=1.0)
    # 0.5 -> round(0.5*4)=2 -> t=2 on ON; -0.25 -> 1 -> t=3 on OFF; 0 -> no spike.
    expected = torch.zeros(4, 1, 6)
    expected[2, 0, 0] = 1.0
    expected[3, 0, 4] = 1.0
    assert torch.equal(z, expected)
    assert torch.allclose(F.latency_decode(z, 1.0), X_HAND, atol=ATOL_FP32)


def test_latency_at_most_one_spike_and_full_scale_first():
    torch.manual_seed(1)
    x = torch.randn(8, 50)
    z = F.latency_encode(x, 16)
    assert z.sum(0).max().item() <= 1.0
    # the row's max-abs fires at t = 0
    assert torch.all(z[0].sum(1) >= 1)


def test_latency_decode_ignores_later_spikes():
    z = torch.zeros(4, 1, 2)
    z[1, 0, 0] = 1.0
    z[3, 0, 0] = 1.0  # a second spike on the same channel is ignored
    assert F.latency_decode(z, 1.0).tolist() == [[0.75]]


def test_sigma_delta_exact():
    z = F.sigma_delta_encode(torch.tensor([[0.6, -0.2, 0.0, 0.9]]), 2, bits=3, x_max=1.0)
    assert z.tolist() == [[[2.0, -1.0, 0.0, 3.0]], [[0.0, 0.0, 0.0, 0.0]]]
    dec = F.sigma_delta_decode(z, bits=3, x_max=1.0)
    assert torch.allclose(dec, torch.tensor([[2 / 3, -1 / 3, 0.0, 1.0]]), atol=ATOL_FP32)


def test_sigma_delta_finishes_large_values_over_time():
    z = F.sigma_delta_encode(torch.tensor([[1.8]]), 3, bits=3, x_max=1.0)
    assert z[:, 0, 0].tolist() == [3.0, 2.0, 0.0]
    assert math.isclose(F.sigma_delta_decode(z, 3, 1.0).item(), 5 / 3, abs_tol=ATOL_FP32)


def test_sigma_delta_8bit_error_bound():
    torch.manual_seed(2)
    x = torch.randn(16, 64)
    z = F.sigma_delta_encode(x, 1, bits=8)
    scale = x.abs().amax(1, keepdim=True)
    err = (F.sigma_delta_decode(z, 8) - x / scale).abs().max().item()
    assert err <= 0.5 / 127 + ATOL_FP32


def test_bernoulli_is_seeded_and_unbiased():
    x = torch.tensor([[0.5, -0.25, 0.0]])
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = F.bernoulli_encode(x, 4000, x_max=1.0, generator=g1)
    b = F.bernoulli_encode(x, 4000, x_max=1.0, generator=g2)
    assert torch.equal(a, b)
    assert a[:, 0, 2].sum() == 0 and a[:, 0, 5].sum() == 0  # zero never fires
    assert torch.allclose(F.rate_decode(a, 1.0), x, atol=0.03)


def test_spikes_per_dimension_counts_graded_events():
    z = torch.zeros(2, 1, 4)
    z[0, 0, 0] = 5.0
    z[1, 0, 1] = -2.0
    assert F.spikes_per_dimension(z, 4) == 0.5


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: F.rate_encode(torch.zeros(2, 2, 2), 4), "x must have shape"),
        (lambda: F.rate_encode(torch.tensor([[float("nan"), 1.0]]), 4), "NaN"),
        (lambda: F.latency_encode(X_HAND, 0), "num_steps must be an int >= 1.*0"),
        (lambda: F.rate_encode(X_HAND, 2.5), "num_steps.*2.5"),
        (lambda: F.sigma_delta_encode(X_HAND, 2, bits=1), "bits must be.*1"),
        (lambda: F.sigma_delta_encode(X_HAND, 2, bits=25), "bits must be.*25"),
        (lambda: F.rate_encode(X_HAND, 4, x_max=-1.0), "x_max.*-1.0"),
        (lambda: F.rate_encode(X_HAND, 4, sign_mode="both"), "both"),
        (lambda: F.rate_decode(torch.zeros(4, 3)), "time-first"),
        (lambda: F.rate_decode(torch.zeros(0, 1, 2)), "T >= 1"),
        (lambda: F.rate_decode(torch.zeros(4, 1, 3)), "even"),
        (lambda: F.sigma_delta_decode(torch.full((1, 1, 2), 9.0), bits=3), "payloads"),
        (lambda: F.sigma_delta_encode(X_HAND, 2, threshold=float("nan")), "threshold"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sigma_delta_halfway_value_sends_once():
    # 0.5 lies halfway between the 3-bit levels 1/3 and 2/3: one spike, no back-and-forth corrections.
    z = F.sigma_delta_encode(torch.tensor([[0.5, -0.5]]), 8, bits=3, x_max=1.0)
    assert z.ne(0).sum().item() == 2
    assert z[0].tolist() == [[2.0, -2.0]]
