"""``hhmem snn``: the spiking-path benchmarks (``roundtrip``, ``lif-baseline``).

Registered lazily in :data:`hybrid.cli.LAZY_COMMANDS`, so ``hhmem add`` never imports snntorch.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from hybrid._version import __version__

#: Default output folder of the reports (git-ignored).
DEFAULT_OUT = Path("reports") / "snn"


def _encode(model: str, texts: list[str], progress: bool) -> tuple[np.ndarray, str]:
    from hybrid.encoder import load_encoder

    enc = load_encoder(model, device="cpu")
    return enc.encode(texts, progress=progress), enc.name


def _corpus_vectors(corpus: Path | None, model: str, limit: int | None, progress: bool) -> tuple[np.ndarray, str]:
    """``(vectors [n, d], what encoded them)`` of ``--corpus``: a ``.npy`` array of vectors is used as
    it is; a text or JSONL file (or the bundled corpus) is encoded with ``model``."""
    from . import bench

    try:
        if corpus is not None and corpus.suffix.lower() == ".npy":
            x = bench.read_vectors(corpus)
            return (x[:limit] if limit else x), f"vectors from {corpus.name}"
        texts = bench.read_corpus(corpus) if corpus else bench.default_corpus()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    return _encode(model, texts[:limit] if limit else texts, progress)


CORPUS_HELP = ("A .npy array of vectors [n, d] (used as they are), a text file (one per line) or JSONL with a "
               "\"text\" field (encoded with --model)")


def _parse_ints(value: str | None, name: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{name} must be comma-separated integers, got {value!r}") from None
    if not out or min(out) < 0:
        raise click.BadParameter(f"{name} must be non-negative integers, got {value!r}")
    return out


@click.group()
def snn() -> None:
    """Spike codes, the LIF Hopfield baseline and the spiking retrieval (see docs/snn.md)."""


@snn.command()
@click.option("--corpus", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=CORPUS_HELP + "; default: the bundled corpus.")
@click.option("--model", default="default", show_default=True, help="Encoder: 'default' (offline MiniLM), a name/path, or hash-<d>.")
@click.option("--limit", type=click.IntRange(min=12), default=None, help="Use only the first N texts.")
@click.option("--steps", default=None, help="Comma-separated T sweep for rate/latency (default 4,8,16,32,64,128).")
@click.option("--bits", default=None, help="Comma-separated bit sweep for sigma-delta (default 2,3,4,5,6,8,10,12).")
@click.option("--bernoulli-steps", default=None, help="Comma-separated T sweep for the Bernoulli code (default 16,...,2048).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def roundtrip(corpus, model, limit, steps, bits, bernoulli_steps, seed, out, progress) -> None:
    """Round-trip cosine, spikes per dimension and retrieval preservation of every spike code."""
    from . import bench

    x, enc_name = _corpus_vectors(corpus, model, limit, progress)
    sweeps = {k: list(v) for k, v in bench.DEFAULT_SWEEPS.items()}
    if (t := _parse_ints(steps, "--steps")) is not None:
        sweeps["rate"] = sweeps["latency"] = [{"num_steps": v} for v in t]
    if (b := _parse_ints(bits, "--bits")) is not None:
        sweeps["sigma_delta"] = [{"num_steps": 4, "bits": v} for v in b]
    if (t := _parse_ints(bernoulli_steps, "--bernoulli-steps")) is not None:
        sweeps["bernoulli"] = [{"num_steps": v} for v in t]
    try:
        report = bench.run_roundtrip(x, bench.RoundTripConfig(sweeps=sweeps, seed=seed), progress=progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report.update({"encoder": enc_name, "corpus": str(corpus) if corpus else "bundled default corpus",
                   "seed": seed, "versions": {**bench.versions(), "hhmem": __version__}})
    paths = bench.write_report(out, "roundtrip", report, bench.roundtrip_markdown(report), bench.roundtrip_plot)
    click.echo(bench.roundtrip_markdown(report))
    click.echo(json.dumps({k: str(v) for k, v in paths.items()}))


@snn.command("lif-baseline")
@click.option("--corpus", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=CORPUS_HELP + ". The first max(--pairs) vectors are the stored facts, each queried by a noisy "
              "copy (--noise); the rest are background. Default: the bundled paraphrase pairs.")
@click.option("--noise", type=click.FloatRange(min=0.0), default=0.5, show_default=True,
              help="With --corpus: norm of the Gaussian noise added to a unit fact to make its cue.")
@click.option("--model", default="default", show_default=True, help="Encoder: 'default' (offline MiniLM), a name/path, or hash-<d>.")
@click.option("--pairs", default=None, help="Comma-separated task sizes (paraphrase pairs), default 5,45.")
@click.option("--background", default=None, help="Comma-separated background sizes, default 0,10,50,200.")
@click.option("--steps", default=None, help="Comma-separated LIF step counts, default 5,10,20,50,100,200.")
@click.option("--timing-repeats", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def lif_baseline(corpus, noise, model, pairs, background, steps, timing_repeats, seed, out, progress) -> None:
    """The research note's recurrent LIF Hopfield vs softmax Hopfield vs the spiking retrieval."""
    from . import bench

    pp = bench.paraphrase_pairs()
    bg = bench.distractors()
    user_x = None
    if corpus is not None:
        user_x, enc_name = _corpus_vectors(corpus, model, None, progress)
    cfg = bench.LIFBaselineConfig(timing_repeats=timing_repeats, seed=seed)
    kw = {}
    for name, val, field in (("--pairs", pairs, "pair_counts"), ("--background", background, "backgrounds"),
                             ("--steps", steps, "steps")):
        if (v := _parse_ints(val, name)) is not None:
            kw[field] = v
    if "steps" in kw and (20 not in kw["steps"] or 200 not in kw["steps"]):
        raise click.BadParameter("--steps must include 20 and 200 (the note's settings)")
    if "steps" in kw and min(kw["steps"]) < 1:
        raise click.BadParameter("--steps must be >= 1")
    if kw:
        from dataclasses import replace

        cfg = replace(cfg, **kw)
    if user_x is not None:
        if max(cfg.pair_counts) >= len(user_x):
            raise click.BadParameter(f"--pairs: {max(cfg.pair_counts)} facts need at least {max(cfg.pair_counts) + 1} "
                                     f"vectors; {corpus} has {len(user_x)}")
        facts, cues, rest = bench.noisy_cue_task(user_x, max(cfg.pair_counts), noise, seed)
        task = {"corpus": str(corpus), "task": f"noisy cues (noise {noise}) of the corpus's first facts"}
    else:
        if max(cfg.pair_counts) > len(pp):
            raise click.BadParameter(f"--pairs: at most {len(pp)} pairs are bundled, got {max(cfg.pair_counts)}")
        x, enc_name = _encode(model, [p["fact"] for p in pp] + [p["question"] for p in pp] + bg, progress)
        n = len(pp)
        facts, cues, rest = x[:n], x[n : 2 * n], x[2 * n :]
        task = {"corpus": "bundled paraphrase pairs", "task": "paraphrased questions"}
    report = bench.run_lif_baseline(facts, cues, rest, cfg, progress=progress)
    report.update({"encoder": enc_name, "seed": seed, "versions": {**bench.versions(), "hhmem": __version__}, **task})
    md = bench.lif_baseline_markdown(report)
    paths = bench.write_report(out, "lif_baseline", report, md, bench.lif_baseline_plot)
    click.echo(md)
    click.echo(json.dumps({k: str(v) for k, v in paths.items()}))
