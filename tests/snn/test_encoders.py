"""Encoder/decoder modules: configs, composition with snntorch, Memory queries with spike cues, and
the round-trip thresholds on real MiniLM embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snn import encoders as E
from snn.bench import leave_one_out_topk
from snn.functional import Code, rowwise_cosine

ATOL_FP32 = 1e-6
#: The research note's round-trip figure, and the bar set for the best deterministic codes.
NOTE_COSINE = 0.99
MIN_MEAN_COSINE = 0.999
MAX_SPIKES_PER_DIM = 1.0
#: Stochastic (Bernoulli) rate code at T = BERNOULLI_STEPS.
BERNOULLI_STEPS = 256
MIN_BERNOULLI_MEAN_COSINE = 0.99
#: Deterministic codes must keep the leave-one-out top-1 of at least this fraction of queries.
MIN_TOP1_UNCHANGED = 0.99

#: The deterministic settings held to MIN_MEAN_COSINE, the 1st-percentile cosine and (latency,
#: sigma-delta) one spike per channel; the last field says whether MIN_TOP1_UNCHANGED applies too.
#: Leave-one-out top-1 among near-duplicate sentences hinges on cosine gaps below 1e-3, so the top-1
#: bar is held at the finer settings (T = 128 is still at most one spike per channel for the latency
#: code); T = 32 / 8 bits kept 0.9875 / 0.994 of top-1 here with the cue-ranked retriever.
DETERMINISTIC_SETTINGS = [
    ("latency", {"num_steps": 32}, False),
    ("rate", {"num_steps": 32}, False),
    ("sigma_delta", {"bits": 8}, False),
    ("latency", {"num_steps": 128}, True),
    ("rate", {"num_steps": 128}, True),
    ("sigma_delta", {"bits": 10}, True),
]


@pytest.mark.parametrize("code", list(Code))
def test_codec_round_trip_shapes_and_hand_values(code):
    x = torch.tensor([[0.5, -0.25, 0.0, 1.0]])
    kwargs = {"bits": 3} if code == Code.SIGMA_DELTA else {"num_steps": 4}
    if code == Code.BERNOULLI:
        kwargs["num_steps"] = 8
    enc, dec = E.make_codec(code, x_max=1.0, **kwargs)
    z = enc(x)
    channels = 4 if code == Code.SIGMA_DELTA else 8
    assert z.shape == (enc.config.num_steps, 1, channels)
    y = dec(z)
    assert y.shape == x.shape
    if code in (Code.RATE, Code.LATENCY):
        assert torch.allclose(y, x, atol=ATOL_FP32), f"{code.value}: {y.tolist()}"
    if code == Code.SIGMA_DELTA:
        # 3-bit payload: unit 1/3; 0.5 -> 2/3 (half rounds up), -0.25 -> -1/3, 1 -> 3/3
        assert torch.allclose(y, torch.tensor([[2 / 3, -1 / 3, 0.0, 1.0]]), atol=ATOL_FP32)
    if code == Code.BERNOULLI:
        assert torch.all(z[:, 0, 3] == 1) and torch.all(z[:, 0, 2] == 0)  # p=1 always, p=0 never


def test_bernoulli_reset_repeats_spikes():
    enc = E.BernoulliEncoder(E.BernoulliConfig(num_steps=32, seed=7))
    x = torch.randn(3, 20)
    a = enc(x)
    b = enc(x)
    enc.reset()
    assert torch.equal(enc(x), a)
    assert not torch.equal(a, b)


def test_configs_reject_bad_values():
    with pytest.raises(ValueError, match="num_steps.*0"):
        E.RateConfig(num_steps=0)
    with pytest.raises(ValueError, match="bits.*30"):
        E.SigmaDeltaConfig(bits=30)
    with pytest.raises(ValueError, match="x_max.*nan"):
        E.LatencyConfig(x_max=float("nan"))
    with pytest.raises(ValueError, match="code must be one of"):
        E.make_codec("morse")
    with pytest.raises(ValueError, match="sign_mode|'both'"):
        E.RateConfig(sign_mode="both")


def test_encoder_output_drives_snntorch_leaky():
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(2, 16), dim=1)
    enc = E.RateEncoder(E.RateConfig(num_steps=16))
    z = enc(x)
    fc = torch.nn.Linear(32, 4)
    lif = snn.Leaky(beta=0.9)
    mem = lif.init_leaky()
    out = []
    for t in range(z.shape[0]):
        spk, mem = lif(fc(z[t]), mem)
        out.append(spk)
    assert torch.stack(out).shape == (16, 2, 4)


def test_memory_query_with_spike_cue(hash_memory, hash_encoder):
    texts = [
        "The spare key is under the blue flower pot.",
        "Grandma's birthday is on the ninth of March.",
        "The Wi-Fi password is marigold-4471.",
        "Bring the red umbrella to the station.",
    ]
    ids = hash_memory.add(texts)
    q = hash_encoder.encode(["where is the spare key"])
    enc, dec = E.make_codec("latency", num_steps=32)
    z = enc(torch.from_numpy(q))
    results = E.search_spikes(hash_memory, z, dec, k=2)
    direct = hash_memory.search(q[0], k=2)
    assert [r.id for r in results[0]] == [r.id for r in direct]
    assert results[0][0].id == ids[0]
    scores, got = E.search_spikes_ids(hash_memory, z, dec, k=2)
    assert got.shape == (1, 2) and got[0, 0] == ids[0]
    with pytest.raises(ValueError, match="zero vector"):
        E.search_spikes(hash_memory, torch.zeros_like(z), dec)


@pytest.mark.slow
@pytest.mark.parametrize(("code", "kwargs", "check_top1"), DETERMINISTIC_SETTINGS)
def test_deterministic_codes_on_minilm(real_embeddings, code, kwargs, check_top1):
    x = torch.from_numpy(real_embeddings)
    y, z = E.round_trip(x, code, **kwargs)
    cos = rowwise_cosine(y, x)
    assert cos.mean() >= MIN_MEAN_COSINE, f"{code} {kwargs}: mean cosine {cos.mean():.5f} < {MIN_MEAN_COSINE}"
    assert np.percentile(cos.numpy(), 1) >= NOTE_COSINE, f"{code}: 1st-percentile cosine below {NOTE_COSINE}"
    if code != "rate":
        per_dim = float((z != 0).sum()) / x.numel()
        assert per_dim <= MAX_SPIKES_PER_DIM, f"{code}: {per_dim:.3f} spikes/dim > {MAX_SPIKES_PER_DIM}"
        assert float(z.ne(0).sum(0).max()) <= 1.0, f"{code}: a channel spiked more than once"
    if not check_top1:
        return
    base = leave_one_out_topk(real_embeddings, real_embeddings, 10)
    after = leave_one_out_topk(real_embeddings, y.numpy(), 10)
    top1 = float(np.mean(base[:, 0] == after[:, 0]))
    assert top1 >= MIN_TOP1_UNCHANGED, f"{code}: top-1 unchanged for {top1:.3f} < {MIN_TOP1_UNCHANGED}"


@pytest.mark.slow
def test_bernoulli_code_on_minilm(real_embeddings):
    x = torch.from_numpy(real_embeddings)
    y, _ = E.round_trip(x, "bernoulli", num_steps=BERNOULLI_STEPS, seed=0)
    mean = float(rowwise_cosine(y, x).mean())
    assert mean >= MIN_BERNOULLI_MEAN_COSINE, f"Bernoulli T={BERNOULLI_STEPS}: mean cosine {mean:.5f}"
