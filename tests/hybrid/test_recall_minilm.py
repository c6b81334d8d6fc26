"""Integration: real MiniLM, handwritten fact/paraphrased-question pairs among 300+ distractors."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import HopfieldConfig, Memory, data

MIN_TOP1 = 0.95
MIN_RECALL_AT_5 = 0.99
MIN_PAIRS, MIN_DISTRACTORS = 30, 200
MIN_TAIL_GAIN = 0.1
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus():
    pairs, distractors = data.paraphrase_pairs(), data.distractors()
    assert len(pairs) >= MIN_PAIRS and len(distractors) >= MIN_DISTRACTORS
    return pairs, distractors


def test_paraphrased_questions_find_their_fact(tmp_path, minilm, corpus):
    pairs, distractors = corpus
    with Memory.open(tmp_path / "s", encoder=minilm, device="cpu") as mem:
        fact_ids = mem.add([p["fact"] for p in pairs])
        mem.add(distractors)
        results = mem.search_batch([p["question"] for p in pairs], k=5)
    top1 = np.mean([bool(r) and r[0].id == fid for r, fid in zip(results, fact_ids)])
    r5 = np.mean([fid in [x.id for x in r] for r, fid in zip(results, fact_ids)])
    assert top1 >= MIN_TOP1, f"top-1 {top1:.3f} < {MIN_TOP1} over {len(pairs)} pairs"
    assert r5 >= MIN_RECALL_AT_5, f"recall@5 {r5:.3f} < {MIN_RECALL_AT_5}"


def test_settle_cleans_up_a_noisy_cue(tmp_path, minilm, corpus):
    """A cue halfway between a stored fact and random noise settles back onto the fact."""
    pairs, distractors = corpus
    keys = minilm.encode([p["fact"] for p in pairs] + distractors)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(keys[: len(pairs)].shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    cues = keys[: len(pairs)] + 0.8 * noise
    with Memory.open(tmp_path / "s", encoder=minilm, device="cpu", hopfield=HopfieldConfig(beta=20.0, max_steps=3, state_weight=1.0)) as mem:
        ids = mem.add([p["fact"] for p in pairs] + distractors, vectors=keys)
        scores, got = mem.search_ids(cues, k=1)
    assert (got[:, 0] == np.asarray(ids[: len(pairs)])).mean() >= MIN_TOP1
    # After settling onto the stored pattern the top score is ~1 (cosine of the key to ξ*).
    assert np.median(scores[:, 0]) > 0.99, f"median settled cosine {np.median(scores[:, 0]):.4f}"


def test_long_text_is_windowed_not_truncated(minilm):
    head = "The treasure map is hidden inside the grandfather clock in the hallway. " * 25
    tail = "The spare car key is taped under the kitchen drawer. " * 25
    long_text = head + tail
    n_tokens = len(minilm.model.tokenizer(long_text, add_special_tokens=False)["input_ids"])
    assert n_tokens > minilm.max_tokens, "test text must exceed the model window"
    v_long, v_tail, v_head = minilm.encode([long_text, tail.strip(), head.strip()])
    truncated = minilm.model.encode([long_text], normalize_embeddings=True)[0]  # the model's own cut-off
    assert abs(float(np.linalg.norm(v_long)) - 1.0) < 1e-5
    # Truncation keeps only the head; windowing keeps the tail too.
    assert v_long @ v_tail > truncated @ v_tail + MIN_TAIL_GAIN, (float(v_long @ v_tail), float(truncated @ v_tail))
    assert v_long @ v_head > 0.5 and v_long @ v_tail > 0.5
