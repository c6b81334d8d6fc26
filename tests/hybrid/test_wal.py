"""Damage to the write-ahead log that SQLite would skip silently is reported when a store opens."""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from pathlib import Path

import pytest

from hybrid import Memory
from hybrid.store import DATABASE
from hybrid.wal import FRAME_HEADER, WAL_HEADER, wal_damage

#: Transactions committed into the log before it is copied.
COMMITS = 12


def _store_with_live_wal(store_path, enc, copy_to: Path) -> Path:
    """A store whose log still holds every commit (copied while a connection keeps it alive)."""
    with Memory.open(store_path, encoder=enc, device="cpu") as mem:
        keeper = sqlite3.connect(store_path / DATABASE)
        keeper.execute("PRAGMA wal_autocheckpoint = 0")
        keeper.execute("SELECT 1").fetchall()
        mem.store.query("PRAGMA wal_checkpoint(TRUNCATE)")  # the schema in the main file; the log holds the adds
        mem.store.query("PRAGMA wal_autocheckpoint = 0")
        for i in range(COMMITS):
            mem.add([f"memory number {i}"])
        shutil.copytree(store_path, copy_to)
        keeper.close()
    return copy_to


def test_clean_log_and_torn_tail_are_not_reported(store_path, hash_encoder, tmp_path):
    copy = _store_with_live_wal(store_path, hash_encoder, tmp_path / "copy")
    wal = Path(f"{copy / DATABASE}-wal")
    assert wal.stat().st_size > WAL_HEADER and wal_damage(copy / DATABASE) is None
    with open(wal, "r+b") as fh:  # a torn last frame: a write that was never acknowledged
        fh.truncate(wal.stat().st_size - 100)
    assert wal_damage(copy / DATABASE) is None


def test_damaged_frame_before_commits_is_reported_at_open(store_path, hash_encoder, tmp_path):
    copy = _store_with_live_wal(store_path, hash_encoder, tmp_path / "copy")
    wal = Path(f"{copy / DATABASE}-wal")
    data = bytearray(wal.read_bytes())
    page = int.from_bytes(data[8:12], "big")
    data[WAL_HEADER + 2 * (FRAME_HEADER + page) + FRAME_HEADER + 40] ^= 0xFF  # a byte of frame 3's page
    wal.write_bytes(bytes(data))
    assert "frame 3" in (wal_damage(copy / DATABASE) or "")
    with pytest.warns(RuntimeWarning, match="acknowledged writes"):
        with Memory.open(copy, encoder=hash_encoder, device="cpu") as mem:
            assert mem.count() < COMMITS  # what SQLite does: the writes after the damage are gone


def test_open_of_a_clean_store_does_not_warn(store_path, hash_encoder, tmp_path):
    copy = _store_with_live_wal(store_path, hash_encoder, tmp_path / "copy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Memory.open(copy, encoder=hash_encoder, device="cpu") as mem:
            assert mem.count() == COMMITS
