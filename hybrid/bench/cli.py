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


@bench.command("latency")
@click.option("--out", type=click.Path(file_okay=False), default="reports/bench-latency", show_default=True,
              help="Report folder.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--sizes", default="20000,100000,1000000", show_default=True, help="Synthetic store sizes N.")
@click.option("--ann-sizes", default="20000,100000", show_default=True,
              help="Sizes at which the HNSW methods are built and swept ('' for none).")
@click.option("--minilm", default=20000, show_default=True, type=click.IntRange(0),
              help="Size of the real-MiniLM set (0: skip).")
@click.option("--queries", default=100, show_default=True, type=click.IntRange(1), help="Single queries per round.")
@click.option("--batch", default=64, show_default=True, type=click.IntRange(1))
@click.option("--batches", default=3, show_default=True, type=click.IntRange(1), help="Batches per round.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1), help="Interleaved repetitions.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1), help="Threads for every library.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]))
@click.option("--ef-search", default="16,32,64,128,256", show_default=True, help="HNSW ef_search sweep.")
@click.option("--ann-backends", default="hnsw,ivf,hnswlib", show_default=True,
              help="hhmem approximate stage-1 backends to sweep (with hnswlib, the peer queries that backend's graph).")
@click.option("--nprobe", default="4,8,16,32,64", show_default=True, help="IVF nprobe sweep.")
@click.option("--ivf-nlist", default=0, show_default=True, type=click.IntRange(0), help="IVF lists (0: about 4 sqrt(N)).")
@click.option("--hnsw-m", default=32, show_default=True, type=click.IntRange(2))
@click.option("--hnsw-ef-construction", default=80, show_default=True, type=click.IntRange(1))
@click.option("--ann-cache/--no-ann-cache", default=False, show_default=True,
              help="Keep built approximate indexes under --cache and reuse them (build times then come from the first run).")
@click.option("--hop-size", default=20000, show_default=True, type=click.IntRange(0), help="0: skip multi-hop.")
@click.option("--ingest-texts", default=1000, show_default=True, type=click.IntRange(0), help="0: skip ingest.")
@click.option("--postgres", default="", show_default=True,
              help="Shared-store row at each --ann-sizes: 'auto' (temporary pgserver) or a postgresql:// URI of a "
                   "server where the bench may create databases; empty: skip.")
@click.option("--model", default="default", show_default=True, help="Encoder ('hash' only for smoke tests).")
@click.option("--cache", type=click.Path(file_okay=False), default="reports/cache", show_default=True)
@click.option("--quiet", "-q", is_flag=True)
def latency(**kw) -> None:
    """Latency/recall against FAISS IndexFlatIP and hnswlib, multi-hop cost, memory per item, ingest."""
    from .latency import LatencyConfig, run_latency

    def ints(v: str) -> tuple[int, ...]:
        try:
            return tuple(int(s) for s in v.split(",") if s.strip())
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers, got {v!r}") from None

    out, quiet = kw.pop("out"), kw.pop("quiet")
    kw["sizes"], kw["ann_sizes"], kw["ef_search"] = ints(kw["sizes"]), ints(kw.pop("ann_sizes")), ints(kw["ef_search"])
    kw["nprobe"] = ints(kw["nprobe"])
    kw["ann_backends"] = tuple(b.strip() for b in kw["ann_backends"].split(",") if b.strip())
    try:
        cfg = LatencyConfig(**kw)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    rep = run_latency(cfg, out, progress=not quiet)
    click.echo(rep["paths"]["markdown"])
