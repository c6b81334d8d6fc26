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
