"""Times of memories: parsing, storage, ``since``/``until`` filters, and ``min_score``."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from hybrid import Memory
from hybrid.errors import InvalidInputError
from hybrid.recall import RecallConfig
from hybrid.times import parse_time, time_range

#: 2023-05-08T13:56:00Z, LoCoMo's "1:56 pm on 8 May, 2023".
MAY_8 = 1683554160.0
DAY = 86400.0


@pytest.mark.parametrize("value", [MAY_8, int(MAY_8), "1683554160", "2023-05-08T13:56:00Z",
                                   "2023-05-08T13:56:00", "2023-05-08T15:56:00+02:00"])
def test_parse_time_accepts_epoch_and_iso(value):
    assert parse_time(value) == MAY_8


def test_parse_time_durations_and_errors():
    assert parse_time("7d", now=MAY_8) == MAY_8 - 7 * DAY
    assert parse_time("12h", now=MAY_8) == MAY_8 - 12 * 3600
    for bad in ("yesterday-ish", "", True, None, [1], float("nan")):
        with pytest.raises(InvalidInputError, match="created_at"):
            parse_time(bad)
    with pytest.raises(InvalidInputError, match="created_at"):
        parse_time("7d", relative=False)
    with pytest.raises(InvalidInputError, match="since .* is after until"):
        time_range("2024-01-01", "2023-01-01")


def test_created_at_is_stored_and_returned(hash_memory):
    ids = hash_memory.add(["alpha note", "beta note", "gamma note"],
                          created_at=["2023-05-08T13:56:00Z", MAY_8 + DAY, None])
    recs = hash_memory.store.get_many(ids)
    assert [r.created_at for r in recs[:2]] == [MAY_8, MAY_8 + DAY]
    assert recs[2].created_at > MAY_8 + 365 * DAY  # now
    hits = {r.id: r for r in hash_memory.search("alpha note", k=3)}
    assert hits[ids[0]].created_at == MAY_8
    assert hits[ids[0]].to_dict()["created_at"] == MAY_8
    one = hash_memory.add(["delta note"], created_at="2020-01-01")
    assert hash_memory.get(one[0]).created_at == parse_time("2020-01-01")
    with pytest.raises(InvalidInputError, match=r"created_at\[1\]"):
        hash_memory.add(["x", "y"], created_at=[MAY_8, "not a time"])
    with pytest.raises(InvalidInputError, match="2 entries for 3 texts"):
        hash_memory.add(["x", "y", "z"], created_at=[MAY_8, MAY_8])


def test_since_until_filter_every_search_path(hash_memory):
    texts = [f"meeting note number {i}" for i in range(6)]
    ids = hash_memory.add(texts, created_at=[MAY_8 + i * DAY for i in range(6)])
    hash_memory.link(ids[0], ids[5])
    got = {r.id for r in hash_memory.search("meeting note", k=6, since=MAY_8 + 2 * DAY, until=MAY_8 + 4 * DAY)}
    assert got == set(ids[2:5])
    got = {r.id for r in hash_memory.search("meeting note", k=6, since="2023-05-12")}
    assert got == set(ids[4:])
    scores, found = hash_memory.search_ids(["meeting note"], k=6, until=MAY_8)
    assert found[0].tolist() == [ids[0]] + [-1] * 5 and np.isneginf(scores[0, 1:]).all()
    # multi-hop: an associate outside the window is not reached
    hop = hash_memory.search("meeting note number 0", k=6, hops=1, until=MAY_8 + DAY)
    assert ids[5] not in {r.id for r in hop}
    hop = hash_memory.search("meeting note number 0", k=6, hops=1)
    assert ids[5] in {r.id for r in hop}
    assert hash_memory.search("meeting note", k=3, since=MAY_8 + 10 * DAY) == []


def test_min_score_drops_low_results(hash_memory):
    hash_memory.add(["red apple pie recipe", "quantum field theory lecture", "stock market report"])
    dense = RecallConfig.dense()  # cosine scores: the floor is checked against them here
    everything = hash_memory.search("red apple pie recipe", k=3, recall=dense)
    assert len(everything) == 3 and min(r.score for r in everything) < 0.5
    kept = hash_memory.search("red apple pie recipe", k=3, min_score=0.5, recall=dense)
    fused = hash_memory.search("red apple pie recipe", k=3, min_score=0.5)  # the default recall: same floor
    assert [r.id for r in fused] == [r.id for r in kept]
    assert [r.id for r in kept] == [r.id for r in everything if r.score >= 0.5]
    assert all(r.score >= 0.5 for r in kept) and kept
    scores, ids = hash_memory.search_ids(["red apple pie recipe"], k=3, min_score=0.99)
    assert ids.shape == (1, 3) and (ids[0, 1:] == -1).all()
    hops = hash_memory.search("red apple pie recipe", k=3, hops=1, min_score=0.5)
    assert all(r.score >= 0.5 for r in hops)
    for bad in ("high", float("inf"), True):
        with pytest.raises(InvalidInputError, match="min_score"):
            hash_memory.search("x", k=1, min_score=bad)


def test_old_store_without_time_index_still_filters(store_path, hash_encoder):
    """A store written before the created_at/text indexes existed gets them on first use."""
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        mem.add(["old one", "old two"], created_at=[MAY_8, MAY_8 + DAY])
    conn = sqlite3.connect(store_path / "memory.db")
    conn.execute("DROP INDEX memories_created")
    conn.execute("DROP INDEX memories_text")
    conn.commit()
    conn.close()
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        assert {r.text for r in mem.search("old", k=2, since=MAY_8 + 1)} == {"old two"}
        assert mem.add(["old one"]) == [1]
        names = {r[0] for r in mem.store.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"memories_created", "memories_text"} <= names
