"""Benchmark session dates become the memories' created_at (LoCoMo, LongMemEval)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hybrid import Memory
from hybrid.eval.locomo import load_locomo
from hybrid.eval.longmemeval import load_longmemeval
from hybrid.eval.methods import StorePool
from hybrid.times import parse_dataset_date

DATA = Path(__file__).resolve().parents[2] / "data" / "eval"


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_dataset_dates_parse():
    assert parse_dataset_date("1:56 pm on 8 May, 2023") == utc(2023, 5, 8, 13, 56)
    assert parse_dataset_date("12:09 am on 13 September, 2023") == utc(2023, 9, 13, 0, 9)
    assert parse_dataset_date("2023/05/20 (Sat) 02:21") == utc(2023, 5, 20, 2, 21)
    assert parse_dataset_date("") is None and parse_dataset_date("sometime") is None and parse_dataset_date(None) is None


def test_locomo_and_longmemeval_turns_carry_their_session_time():
    part = load_locomo(DATA / "locomo_tiny.json").partitions[0]
    times = {d.group: d.meta["time"] for d in part.docs}
    assert times == {"D1": utc(2023, 5, 1, 13, 0), "D2": utc(2023, 5, 8, 9, 30)}
    lme = load_longmemeval(DATA / "longmemeval_tiny.json")
    assert all(d.meta["time"] is not None and d.meta["time"] >= utc(2023, 5, 1) for p in lme.partitions for d in p.docs)


def test_eval_store_keeps_the_session_time(hash_encoder, tmp_path):
    part = load_locomo(DATA / "locomo_tiny.json").partitions[0]
    pool = StorePool(hash_encoder, tmp_path)
    mem, ids = pool.get(part, None, None, {})
    try:
        got = {r.id: r.created_at for r in mem.store.get_many(ids)}
        assert [got[i] for i in ids] == [d.meta["time"] for d in part.docs]
        assert isinstance(mem, Memory)
    finally:
        pool.close()
