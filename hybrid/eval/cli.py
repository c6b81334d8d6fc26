"""``hhmem eval``: LongMemEval, LoCoMo and BEIR evaluations with baselines measured in the same run."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import HHMemError
from . import EvalSet, Partition, Query
from .cache import DEFAULT_CACHE_DIR, CachedEncoder
from .metrics import LONGMEMEVAL_KS, mrr_at_k, ndcg_at_k, recall_any_all, recall_fraction, score_turns

#: Seed recorded in reports (every method here is deterministic; nothing is sampled).
SEED = 0


def parse_ints(value: str | None, option: str) -> list[int] | None:
    if value is None or value == "":
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}", param_hint=option) from None


def common_options(f: Callable) -> Callable:
    opts = [
        click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
                     help="Report path (.json); .md and .png are written beside it. Default: reports/eval/<bench>-<time>.json"),
        click.option("--model", default="default", show_default=True, help="Encoder: 'default' (offline MiniLM), a name or a path."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=str(DEFAULT_CACHE_DIR), show_default=True,
                     help="Embedding cache folder (keyed by model and text hash)."),
        click.option("--depth", type=int, default=50, show_default=True, help="Ranked positions kept per query."),
        click.option("--ablations/--no-ablations", default=True, show_default=True,
                     help="Also run each fusion component alone."),
        click.option("--hops", type=int, default=2, show_default=True, help="Hops of hhmem-multihop (when available)."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
        click.option("--per-query", is_flag=True,
                     help="Also write <report>.per-query.jsonl: each method's ranking of each query with its gold ids."),
    ]
    for o in reversed(opts):
        f = o(f)
    return functools.wraps(f)(f)


def _encoder(model: str, cache_dir: str, quiet: bool) -> CachedEncoder:
    from ..encoder import load_encoder

    return CachedEncoder(load_encoder(model), cache_dir, progress_min=None if quiet else 256)


def _run(evalset: EvalSet, scorer, *, primary: str, opts: dict[str, Any], extra=None, config: dict | None = None) -> dict:
    from .methods import StorePool, standard_methods
    from .report import evaluate, markdown, write_per_query, write_report

    if opts["depth"] < 1:
        raise click.BadParameter(f"must be >= 1, got {opts['depth']}", param_hint="--depth")
    enc = _encoder(opts["model"], opts["cache_dir"], opts["quiet"])
    pool = StorePool(enc)
    methods = standard_methods(enc, ablations=opts["ablations"], hops=opts["hops"], pool=pool)
    cfg = {"model": enc.name, "seed": SEED, "hops": opts["hops"], "cache_dir": opts["cache_dir"], **(config or {})}
    rankings: list[dict] | None = [] if opts["per_query"] else None
    try:
        report = evaluate(evalset, methods, scorer, depth=opts["depth"], config=cfg, primary=primary, extra=extra,
                          progress=not opts["quiet"], rankings=rankings)
    finally:
        pool.close()
    report["counts"]["embedding_cache"] = {"hits": enc.hits, "misses": enc.misses}
    path = opts["json_path"] or Path("reports") / "eval" / f"{evalset.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    paths = write_report(report, path)
    if rankings is not None:
        paths["per_query"] = write_per_query(rankings, paths["json"])
    click.echo(markdown(report))
    click.echo("wrote " + ", ".join(str(p) for p in paths.values()), err=True)
    return report


@click.group("eval")
def eval_group() -> None:
    """Retrieval evaluation on LongMemEval, LoCoMo and BEIR-format corpora (baselines in the same run)."""


def turn_scorer(ks, *, sessions_only: bool = False) -> Callable[[Partition, Query, list[int]], dict]:
    """Turn- and session-level metrics; ``sessions_only`` when the documents already are sessions."""
    def score(part: Partition, q: Query, ranking: list[int]) -> dict:
        out = score_turns([d.id for d in part.docs], [d.group for d in part.docs], ranking, q.gold, ks,
                          gold_groups=q.meta.get("gold_groups"))
        return {"session": out["turn"]} if sessions_only else out
    return score


@eval_group.command("locomo")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--conversations", default=None, help="0-based conversation indices, e.g. 0,1 (default: all).")
@click.option("--k", "ks", default="1,3,5,10,20,50", show_default=True, help="Cut-offs.")
@common_options
def locomo_cmd(file, conversations, ks, **opts) -> None:
    """LoCoMo (official locomo10.json format): evidence recall per category, turn and session level."""
    from .locomo import load_locomo

    kl = parse_ints(ks, "--k")
    try:
        es = load_locomo(file, conversations=parse_ints(conversations, "--conversations"))
        _run(es, turn_scorer(kl), primary="turn/recall_all@10" if 10 in kl else f"turn/recall_all@{kl[0]}",
             opts=opts, config={"file": str(file), "ks": kl})
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from exc


@eval_group.command("longmemeval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--granularity", type=click.Choice(["turn", "session"]), default="turn", show_default=True)
@click.option("--with-assistant", is_flag=True, help="Index assistant turns too (the official flat baseline indexes user turns only).")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N questions.")
@common_options
def longmemeval_cmd(file, granularity, with_assistant, limit, **opts) -> None:
    """LongMemEval (official *_cleaned.json / oracle files): official recall_any/recall_all/ndcg at 1..50."""
    from .longmemeval import answer_in_retrieved, load_longmemeval

    try:
        es = load_longmemeval(file, granularity=granularity, with_assistant=with_assistant, limit=limit)
        ks = list(LONGMEMEVAL_KS)
        _run(es, turn_scorer(ks, sessions_only=granularity == "session"),
             primary=f"{'turn' if granularity == 'turn' else 'session'}/recall_all@10",
             opts=opts, extra=answer_in_retrieved(ks=(5, 10)),
             config={"file": str(file), "granularity": granularity, "with_assistant": with_assistant, "ks": ks,
                     "limit": limit})
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from exc


def beir_scorer(ks) -> Callable[[Partition, Query, list[int]], dict]:
    def score(part: Partition, q: Query, ranking: list[int]) -> dict:
        ids = [part.docs[p].id for p in ranking]
        gains = q.gains or {g: 1.0 for g in q.gold}
        out: dict[str, float] = {}
        for k in ks:
            a, al = recall_any_all(ids, q.gold, k)
            out[f"recall_any@{k}"], out[f"recall_all@{k}"] = a, al
            out[f"recall@{k}"] = recall_fraction(ids, q.gold, k)
        out["ndcg@10"] = ndcg_at_k(ids, gains, 10)
        out["mrr@10"] = mrr_at_k(ids, gains, 10)
        return {"doc": out}
    return score


@eval_group.command("beir")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--split", default="test", show_default=True, help="qrels/<split>.tsv")
@click.option("--k", "ks", default="1,5,10,100", show_default=True, help="Cut-offs of recall_any/recall_all.")
@common_options
def beir_cmd(folder, split, ks, **opts) -> None:
    """A BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""
    from .beir import load_beir

    kl = parse_ints(ks, "--k")
    try:
        es = load_beir(folder, split=split)
        _run(es, beir_scorer(kl), primary="doc/ndcg@10", opts=opts,
             config={"folder": str(folder), "split": split, "ks": kl})
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from exc
