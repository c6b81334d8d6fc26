"""Paraphrase cue augmentation: generated key kinds and their use by Memory."""

from __future__ import annotations

import pytest

from hybrid import Memory
from hybrid.cues import KeyKind, key_generator, keyphrases, parse_kinds, split_sentences, strip_speaker
from hybrid.errors import InvalidInputError

#: Every kind must produce at least this many keys on the sample turn below.
MIN_KEYS_PER_KIND = 1
SAMPLE = "Caroline: Hey Mel! I moved to Lisbon in 2019. The food there is wonderful."


def test_each_kind_produces_keys():
    for kind in KeyKind:
        keys = key_generator([kind])(SAMPLE)
        assert len(keys) >= MIN_KEYS_PER_KIND, f"{kind.value}: {keys}"
        assert all(k == kind.value for k, _ in keys)
        assert all(t.strip() and t != SAMPLE for _, t in keys)


def test_question_form_rewrites():
    qs = [t for _, t in key_generator(["question"])("Alice moved to Paris in 2019.")]
    assert "When did Alice move to Paris?" in qs, qs
    assert "Where did Alice move in 2019?" in qs, qs
    assert key_generator(["question"])("Hello there.") == [], "no generic question without a verb"


def test_helpers():
    assert split_sentences(SAMPLE)[1] == "I moved to Lisbon in 2019."
    assert strip_speaker(SAMPLE).startswith("I moved to Lisbon")
    assert keyphrases("I moved to Lisbon in 2019.") == "moved lisbon 2019"


def test_parse_kinds():
    assert parse_kinds("all") == list(KeyKind)
    assert parse_kinds("question,keyphrase") == [KeyKind.QUESTION, KeyKind.KEYPHRASE]
    assert parse_kinds("none") == []
    with pytest.raises(InvalidInputError, match="unknown key kind 'banana'"):
        parse_kinds("banana")


def test_max_keys_and_dedup():
    keys = key_generator("all", max_keys=3)(SAMPLE)
    assert len(keys) == 3
    texts = [t for _, t in key_generator("all")(SAMPLE)]
    assert len(texts) == len(set(texts))


def test_memory_stores_generated_keys_and_finds_by_any(store_path, hash_encoder):
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", cue_keys="keyphrase,stripped") as mem:
        mid = mem.add([SAMPLE, "Bob: Good morning! The printer is out of toner."])[0]
        rec = mem.store.get(mid, with_keys=True)
        kinds = [k.kind for k in rec.keys]
        assert kinds[0] == "text" and "keyphrase" in kinds and "stripped" in kinds, kinds
        kp = [k.text for k in rec.keys if k.kind == "keyphrase"][0]
        assert mem.search(kp, 1)[0].id == mid, "a memory must be found through its key-phrase key"
        assert len(mem.retriever) == len(rec.keys) + len(mem.store.get(mid + 1, with_keys=True).keys)
