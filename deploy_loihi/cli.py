"""``hhmem loihi``: neuromorphic deployment commands (Lava CPU simulation)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group("loihi")
def loihi() -> None:
    """Lava / Loihi 2 deployment of pattern separation and Hebbian chain recall."""


@loihi.command("simulate")
@click.option("--store", "store", type=click.Path(path_type=Path), default=None, help="Take memories from this store.")
@click.option("--locomo", type=click.Path(exists=True, path_type=Path), default=None, help="Take memories from LoCoMo turns.")
@click.option("--memories", type=int, default=200, show_default=True, help="Memories M to use.")
@click.option("--code-dim", type=int, default=2048, show_default=True, help="Code dimension N.")
@click.option("-k", "k", type=int, default=16, show_default=True, help="Winners per code.")
@click.option("--hops", type=int, default=3, show_default=True, help="Hops per recall.")
@click.option("--w-cap", type=int, default=1, show_default=True, help="Synaptic cap min(W, cap).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--message-bits", "message_bits", type=int, default=16, show_default=True,
              help="Graded payload bits of the embedding (16 = production quantisation, scale 2^15-1).")
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True, help="Deadline per Lava run (s).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports/loihi_simulate"), show_default=True)
def simulate_cmd(store, locomo, memories, code_dim, k, hops, w_cap, seed, message_bits, timeout_s, out) -> None:
    """Learn associations in Lava, run cue → N-hop recalls, report parity, cost and a Loihi 2 estimate."""
    from deploy_loihi.simulate import (
        SimulateConfig,
        bundled_texts,
        locomo_texts,
        simulate,
        store_texts,
        write_report,
    )

    try:
        cfg = SimulateConfig(memories=memories, code_dim=code_dim, k=k, hops=hops, w_cap=w_cap, seed=seed,
                             num_message_bits=message_bits, timeout_s=timeout_s)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if store is not None and locomo is not None:
        raise click.BadParameter("give at most one of --store and --locomo")
    texts = store_texts(store) if store is not None else locomo_texts(locomo) if locomo is not None else bundled_texts()
    if len(texts) < cfg.memories:
        raise click.ClickException(f"--memories {cfg.memories} but the source holds only {len(texts)} memories")
    try:
        rep = simulate(cfg, texts)
    except (TimeoutError, RuntimeError) as exc:
        raise click.ClickException(f"Lava run failed: {exc}") from None
    paths = write_report(rep, out)
    click.echo(paths["md"].read_text())
    click.echo(json.dumps({k: str(v) for k, v in paths.items()}), file=sys.stderr)


def _read_queries(path: Path) -> tuple[list[str], list[list[int]]]:
    """JSONL of ``{"query": str, "relevant": [memory ids]}`` (``relevant`` optional)."""
    texts, relevant = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"{path}:{n}: not JSON ({exc})", param_hint="--queries") from None
        q = row.get("query") if isinstance(row, dict) else None
        rel = row.get("relevant", []) if isinstance(row, dict) else None
        if not isinstance(q, str) or not q.strip():
            raise click.BadParameter(f"{path}:{n}: needs a non-empty string 'query'", param_hint="--queries")
        if not isinstance(rel, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in rel):
            raise click.BadParameter(f"{path}:{n}: 'relevant' must be a list of memory ids", param_hint="--queries")
        texts.append(q)
        relevant.append(rel)
    if not texts:
        raise click.BadParameter(f"{path} holds no queries", param_hint="--queries")
    return texts, relevant


@loihi.command("recall")
@click.argument("question", required=False)
@click.option("--store", type=click.Path(path_type=Path), envvar="HHMEM_STORE", default=None,
              help="The store to deploy (default: $HHMEM_STORE).")
@click.option("--namespace", default=None, help="Deploy only this namespace's memories.")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help='Batch: JSONL of {"query": str, "relevant": [memory ids]}; writes the parity report.')
@click.option("--locomo", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Batch: a temporary store of one LoCoMo conversation's turns, its questions and evidence.")
@click.option("--conversation", type=int, default=0, show_default=True, help="LoCoMo conversation index.")
@click.option("--precision", type=click.Choice(["fixed_pt", "floating_pt"]), default="fixed_pt", show_default=True,
              help="Process models of a single question (a batch runs both).")
@click.option("-k", "k", type=int, default=10, show_default=True, help="Results per question.")
@click.option("--key-parts", type=int, default=2, show_default=True, help="8-bit slices per key weight (fixed_pt).")
@click.option("--walk-parts", type=int, default=2, show_default=True, help="8-bit slices per walk weight (fixed_pt).")
@click.option("--search-in-step", is_flag=True,
              help="Run each threshold search inside one simulated step (same rankings, ~20x fewer steps).")
@click.option("--timeout", "timeout_s", type=float, default=1800.0, show_default=True, help="Deadline per Lava run (s).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports/loihi_recall"), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def recall_cmd(question, store, namespace, queries, locomo, conversation, precision, k, key_parts, walk_parts,
               search_in_step, timeout_s, out, as_json) -> None:
    """Answer questions with the default recall run as a Lava network (host encodes, Lava ranks).

    One QUESTION prints the ranked memories like `hhmem search`; --queries or --locomo run a batch
    through production, the floating-point and the fixed-point network and write a parity report.
    """
    from deploy_loihi.recall import NetworkConfig

    modes = sum(x is not None for x in (question, queries, locomo))
    if modes != 1:
        raise click.UsageError("give exactly one of QUESTION, --queries and --locomo")
    if locomo is None and store is None:
        store = (click.get_current_context().find_root().obj or {}).get("store")
        if store is None:
            raise click.UsageError("--store (or $HHMEM_STORE) is required unless --locomo is given")
    try:
        cfg = NetworkConfig(k=k, key_parts=key_parts, walk_parts=walk_parts, timeout_s=timeout_s,
                            stepped_search=not search_in_step)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        if locomo is not None:
            _locomo_batch(locomo, conversation, cfg, out)
        else:
            _store_run(store, namespace, question, queries, precision, cfg, out, as_json)
    except (TimeoutError, RuntimeError) as exc:
        raise click.ClickException(f"Lava run failed: {exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _store_run(store, namespace, question, queries, precision, cfg, out, as_json) -> None:
    from hybrid.errors import HHMemError
    from hybrid.memory import Memory

    root = click.get_current_context().find_root().obj or {}
    try:
        mem = Memory.open(store, encoder=root.get("model", "default"), create=False)
    except HHMemError as exc:
        raise click.ClickException(str(exc)) from None
    with mem:
        if queries is not None:
            from deploy_loihi.recall_report import parity

            texts, relevant = _read_queries(queries)
            rep = parity(mem, texts, relevant, namespace=namespace, cfg=cfg, source=f"store {store}")
            _emit_report(rep, out)
            return
        from deploy_loihi.recall import run_network
        from deploy_loihi.recall_functional import RecallParams
        from deploy_loihi.recall_weights import encode_queries, from_memory

        w = from_memory(mem, namespace=namespace)
        params = RecallParams.from_config(w.config)
        res = run_network(w, encode_queries(mem, w, [question]), params, precision, cfg)
        live = [(int(i), float(s)) for i, s in zip(res.ids[0], res.scores[0]) if i >= 0]
        records = {r.id: r for r in mem.store.get_many([i for i, _ in live])}
        rows = [{"rank": n, "id": i, "score": s, "text": records[i].text} for n, (i, s) in enumerate(live, 1)]
        if as_json:
            click.echo(json.dumps({"precision": precision, "results": rows, "time_steps": res.steps,
                                   "spikes": res.spikes, "synaptic_events": res.syn_events}, indent=2, ensure_ascii=False))
            return
        click.echo(f"{'rank':>4}  {'id':>6}  {'score':>7}  text")
        for r in rows:
            text = r["text"].replace("\n", " ")
            click.echo(f"{r['rank']:>4}  {r['id']:>6}  {r['score']:7.3f}  {text[:100]}")
        click.echo(f"({precision}: {res.steps} time steps, {res.spikes} spikes, {res.syn_events} synaptic events)",
                   err=True)


def _emit_report(rep, out) -> None:
    from deploy_loihi.recall_report import write_report

    paths = write_report(rep, out)
    click.echo(paths["md"].read_text())
    click.echo(json.dumps({k: str(v) for k, v in paths.items()}), file=sys.stderr)


def _locomo_batch(path: Path, conversation: int, cfg, out: Path) -> None:
    import time

    from deploy_loihi.recall_report import locomo_questions, parity
    from hybrid.encoder import load_encoder
    from hybrid.errors import HHMemError
    from hybrid.eval.cache import DEFAULT_CACHE_DIR, CachedEncoder
    from hybrid.eval.locomo import load_locomo
    from hybrid.eval.methods import StorePool

    t0 = time.perf_counter()
    try:
        evalset = load_locomo(path, conversations=[conversation])
    except HHMemError as exc:
        raise click.BadParameter(str(exc), param_hint="--locomo/--conversation") from None
    part = evalset.partitions[0]
    pool = StorePool(CachedEncoder(load_encoder("default"), str(DEFAULT_CACHE_DIR), progress_min=None))
    try:
        mem, ids = pool.get(part, None, None, {})
        texts, relevant = locomo_questions(ids, part)
        rep = parity(mem, texts, relevant, cfg=cfg, source=f"LoCoMo {path.name} conversation {conversation}")
    finally:
        pool.close()
    rep["wall_s_total"] = time.perf_counter() - t0
    _emit_report(rep, out)
