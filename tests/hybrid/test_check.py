"""Damaged rows stay with their row: reads skip them with a warning naming each; ``hhmem check``
lists them and ``--repair`` quarantines them."""

from __future__ import annotations

import json
import sqlite3
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from hybrid import Memory
from hybrid.check import check_store
from hybrid.cli import main
from hybrid.errors import StoreCorruptError
from hybrid.recall import RecallConfig
from hybrid.store import DATABASE, DamagedRowWarning

TEXTS = ["the red kettle is in the pantry", "bad text row", "bad metadata escape", "bad metadata json",
         "nan vector row", "the blue door is locked", "metadata is a list"]
#: Memory id -> SQL that damages it (ids follow TEXTS, from 1).
DAMAGE = {
    2: "UPDATE memories SET text = CAST(X'626164FF74657874' AS TEXT) WHERE id = 2",  # invalid UTF-8 byte
    3: "UPDATE memories SET metadata = '{\"k\": \"\\udcff\"}' WHERE id = 3",  # JSON escape of a lone surrogate
    4: "UPDATE memories SET metadata = '{\"k\": 1' WHERE id = 4",  # truncated JSON
    5: "UPDATE keys SET vector = ? WHERE memory_id = 5",  # NaN key vector
    7: "UPDATE memories SET metadata = '[1]' WHERE id = 7",
}
GOOD = [1, 6]


@pytest.fixture
def damaged_store(store_path, hash_encoder):
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        assert mem.add(TEXTS, namespace="t") == list(range(1, len(TEXTS) + 1))
        dim = mem.store.dim
    conn = sqlite3.connect(store_path / DATABASE)
    with conn:
        for sql in DAMAGE.values():
            conn.execute(sql, (np.full(dim, np.nan, "<f4").tobytes(),) if "?" in sql else ())
    conn.close()
    return store_path


def _damage_warnings(caught) -> set[int]:
    ids = set()
    for w in caught:
        if issubclass(w.category, DamagedRowWarning):
            assert str(DATABASE) in str(w.message)
            ids.add(int(str(w.message).split("memory ")[1].split()[0]))
    return ids


def test_reads_skip_damaged_rows_with_a_warning(damaged_store, hash_encoder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Memory.open(damaged_store, encoder=hash_encoder, device="cpu") as mem:  # NaN vector: store still opens
            assert _damage_warnings(caught) == {5}
            listed = [r.id for r in mem.list(namespace="t")]
            assert listed == [1, 5, 6], listed  # 5's row reads back; only its key is unusable
            hits = [r.id for r in mem.search("the red kettle pantry", k=10, namespace="t")]
            assert hits[0] == 1 and not set(hits) & {2, 3, 4, 5, 7}
            with pytest.raises(StoreCorruptError, match="memory 2 is damaged"):
                mem.get(2)
            from hybrid.fusion import FusionSearcher

            fused = [r.id for r in FusionSearcher(mem).search("blue door locked", 3, namespace="t")]
            assert fused and fused[0] == 6
    assert _damage_warnings(caught) == {2, 3, 4, 5, 7}


def test_check_lists_and_repair_quarantines(damaged_store, hash_encoder):
    report = check_store(damaged_store)
    assert [d["id"] for d in report["damaged"]] == sorted(DAMAGE), report
    assert report["quarantined"] == []
    reasons = {d["id"]: d["reason"] for d in report["damaged"]}
    assert "UTF-8" in reasons[2] and "surrogate" in reasons[3] and "JSON" in reasons[4] and "NaN" in reasons[5]

    runner = CliRunner()
    listed = runner.invoke(main, ["--store", str(damaged_store), "check", "--json"])
    assert listed.exit_code == 1 and [d["id"] for d in json.loads(listed.output)["damaged"]] == sorted(DAMAGE)
    repaired = runner.invoke(main, ["--store", str(damaged_store), "check", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "quarantined 5" in repaired.output
    clean = runner.invoke(main, ["--store", str(damaged_store), "check"])
    assert clean.exit_code == 0 and "no damaged" in clean.output

    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedRowWarning)
        with Memory.open(damaged_store, encoder=hash_encoder, device="cpu") as mem:
            assert [r.id for r in mem.list(namespace="t")] == GOOD
            assert mem.search("the red kettle", k=1, recall=RecallConfig.dense())[0].id == 1
            assert 1 in {r.id for r in mem.search("the red kettle", k=3)}
    conn = sqlite3.connect(damaged_store / DATABASE)
    rows = conn.execute("SELECT memory_id, reason FROM quarantine ORDER BY memory_id").fetchall()
    conn.close()
    assert [r[0] for r in rows] == sorted(DAMAGE)
