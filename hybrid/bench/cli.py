"""The ``hhmem bench`` command group. Sub-commands live in their own modules and are added here."""

from __future__ import annotations

import click


@click.group("bench")
def bench() -> None:
    """Benchmarks that reproduce the project's claims (seeded; JSON + Markdown + PNG reports)."""


@bench.command("synthetic")
@click.option("--out", type=click.Path(file_okay=False), default="reports/bench-synthetic", show_default=True,
              help="Report folder.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--sizes", default="1000,5000,20000,50000", show_default=True,
              help="Comma-separated store sizes for the capacity test.")
@click.option("--chain-size", default=20000, show_default=True, type=click.IntRange(10))
@click.option("--chains", default=500, show_default=True, type=click.IntRange(1), help="Chains measured.")
@click.option("--hops", default=6, show_default=True, type=click.IntRange(1, 20))
@click.option("--queries", default=500, show_default=True, type=click.IntRange(1), help="Cues per test.")
@click.option("--noise", default=0.2, show_default=True, type=click.FloatRange(0, 1),
              help="Fraction of embedding coordinates replaced by noise in the noise test.")
@click.option("--code-dim", default=None, type=int, help="Code dimension N (default: AssociativeConfig).")
@click.option("-k", "k", default=None, type=int, help="Winners k (default: AssociativeConfig).")
@click.option("--model", default="default", show_default=True, help="Encoder ('hash' only for smoke tests).")
@click.option("--cache", type=click.Path(file_okay=False), default="reports/cache", show_default=True,
              help="Where encoded corpus embeddings are cached between runs.")
@click.option("--quiet", "-q", is_flag=True)
def synthetic(**kwargs) -> None:
    """Noise tolerance, paraphrase recall, capacity, 6-hop chains and cost, each against its peer."""
    from .synthetic import SyntheticConfig, run_synthetic

    out = kwargs.pop("out")
    quiet = kwargs.pop("quiet")
    sizes = tuple(int(s) for s in kwargs.pop("sizes").split(",") if s.strip())
    try:
        cfg = SyntheticConfig(sizes=sizes, **kwargs)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report = run_synthetic(cfg, out, progress=not quiet)
    click.echo(report["markdown_path"])


@bench.command("locomo-assoc")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default="reports/bench-locomo-assoc", show_default=True)
@click.option("--k", "ks", default="1,5,10,20", show_default=True, help="Cut-offs.")
@click.option("--conversations", default=None, help="0-based conversation indices (default: all).")
@click.option("--variants", "selected", default=None, help="Comma-separated variant names (default: all).")
@click.option("--model", default="default", show_default=True)
@click.option("--cache-dir", default="reports/cache/eval", show_default=True)
@click.option("--quiet", "-q", is_flag=True)
def locomo_assoc(file, out, ks, conversations, selected, model, cache_dir, quiet) -> None:
    """What multi-hop search and each generated key kind add over single-hop recall on LoCoMo."""
    from .locomo_assoc import run_locomo_assoc

    def ints(v):
        return [int(x) for x in v.split(",") if x.strip()] if v else None

    rep = run_locomo_assoc(file, out, ks=ints(ks), conversations=ints(conversations),
                           selected=[s.strip() for s in selected.split(",")] if selected else None,
                           model=model, cache_dir=cache_dir, progress=not quiet)
    click.echo(rep["markdown"])
    click.echo("wrote " + ", ".join(rep["paths"].values()), err=True)
