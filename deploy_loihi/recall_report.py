"""Parity of the Lava recall network with the production default recall, its cost, and a Loihi 2 estimate.

:func:`parity` runs the same questions through ``Memory.search`` (production), the
``floating_pt`` network and the bit-accurate ``fixed_pt`` network, and reports per model: top-1
agreement and top-10 overlap with production, recall_all@10 beside production's, time steps,
spikes and synaptic events per question, and CPU wall time. :func:`loihi_estimate` turns the
counts into an energy and latency estimate from published per-operation figures
(:data:`OPERATION_COSTS`, every figure labelled with its source), and :func:`resources` sizes the
whole network at 1K–1M memories.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deploy_loihi import resources as res
from deploy_loihi.recall import NetworkConfig, NetworkResult, build_layers, run_network
from deploy_loihi.recall_functional import RecallParams
from deploy_loihi.recall_weights import encode_queries, from_memory

#: Published per-operation figures of Loihi (Davies et al., "Loihi: A Neuromorphic Manycore Processor
#: with On-Chip Learning", IEEE Micro 38(1), 2018, Table 2). Loihi 2's per-operation figures are not
#: published in this form; Intel's Loihi 2 brief (2021) states up to 10x faster processing, so using
#: Loihi 1's figures is an estimate that errs on the slow side.
OPERATION_COSTS = {
    "synaptic_op_pj": 23.6,
    "synaptic_op_ns": 3.5,
    "neuron_update_pj": 52.0,
    "neuron_update_ns": 8.4,
    "barrier_sync_ns": 465.0,
    "source": "Davies et al., IEEE Micro 38(1):82-99, 2018, Table 2 (Loihi 1: min energy per synaptic spike op "
              "23.6 pJ, max time per synaptic op 3.5 ns, active neuron update 52 pJ / 8.4 ns, mesh-wide barrier "
              "sync 113-465 ns); applied to Loihi 2 as an estimate",
}
#: Memories at which the whole recall is sized.
RESOURCE_SIZES = (1_000, 20_000, 100_000, 1_000_000)
K = 10


def recall_all(ranked: np.ndarray, relevant: Sequence[Sequence[int]], k: int = K) -> float | None:
    """Share of questions whose every relevant memory is in the top ``k`` (questions without relevant ids skipped)."""
    hits = [set(r).issubset(set(row[:k].tolist())) for row, r in zip(ranked, relevant) if r]
    return float(np.mean(hits)) if hits else None


def agreement(ranked: np.ndarray, production: np.ndarray, k: int = K) -> dict[str, float]:
    """Top-1 agreement and mean top-``k`` overlap ``|A ∩ P| / |P|`` with the production ranking ``P``."""
    top1 = float(np.mean([a[0] == p[0] for a, p in zip(ranked, production)]))
    over = [len(set(a[:k].tolist()) & (set(p[:k].tolist()) - {-1})) / max(1, len(set(p[:k].tolist()) - {-1}))
            for a, p in zip(ranked, production)]
    return {"top1_agreement": top1, "top10_overlap": float(np.mean(over))}


def loihi_estimate(steps: float, neurons: int, syn_events: float, cores: int) -> dict[str, float]:
    """Energy (µJ) and latency (µs) of one question from :data:`OPERATION_COSTS` (an estimate).

    .. math::
        E = n_{syn}\\, e_{syn} + T\\, N\\, e_{neu}, \\qquad
        t = T\\, t_{sync} + \\frac{n_{syn}\\, t_{syn} + T\\, N\\, t_{neu}}{\\text{cores}}

    with ``T`` time steps, ``N`` neurons (all updated every step: an upper bound) and synaptic
    events ``n_syn`` spread evenly over the cores.
    """
    c = OPERATION_COSTS
    updates = steps * neurons
    energy = syn_events * c["synaptic_op_pj"] + updates * c["neuron_update_pj"]
    latency = steps * c["barrier_sync_ns"] + (syn_events * c["synaptic_op_ns"] + updates * c["neuron_update_ns"]) / max(cores, 1)
    return {"energy_uj": energy * 1e-6, "latency_us": latency * 1e-3, "estimate": True}


def resources(counts: dict[str, int], cfg: NetworkConfig, sizes: Sequence[int] = RESOURCE_SIZES) -> list[dict[str, Any]]:
    """Neurons, synapses, cores and chips of the whole recall at each size, scaled from the deployed store's
    per-memory counts (keys, concept cells, BM25 and walk synapses per memory; vocabulary by Heaps' law
    ``V ∝ M^{0.5}``). Cores take the larger of the neuron and synaptic-memory limits of
    :mod:`deploy_loihi.resources` (per-core figures are estimates)."""
    m0 = counts["memories"]
    rows = []
    for m in sizes:
        f = m / m0
        keys, concepts = round(counts["keys"] * f), round(counts["concepts"] * f)
        vocab = round(counts["vocabulary"] * math.sqrt(f))
        layers = {
            # name: (neurons, synapses, bits per synapse)
            "keys (Dense R×d)": (keys, keys * counts["dim"] * cfg.key_parts, 8),
            "BM25 (sparse M×V)": (0, round(counts["lexical_synapses"] * f) * cfg.lexical_parts, 8 + res.SPARSE_INDEX_BITS),
            "memory layer": (m, 0, 0),
            "links (one-hot)": (0, round(counts["link_synapses"] * f), 1 + res.SPARSE_INDEX_BITS),
            "concept cells": (concepts, 0, 0),
            "walk (sparse P_mc, P_cm)": (0, round(counts["walk_synapses"] * f) * cfg.walk_parts, 8 + res.SPARSE_INDEX_BITS),
            "host inputs (words)": (vocab + counts["dim"], 0, 0),
        }
        out_layers, neurons, synapses, cores = [], 0, 0, 0
        for name, (n, s, bits) in layers.items():
            c = math.ceil(max(n / res.NEURONS_PER_CORE, s * bits / (8 * res.SYNAPTIC_BYTES_PER_CORE), 0))
            out_layers.append({"name": name, "neurons": n, "synapses": s, "bits_per_synapse": bits, "cores": c})
            neurons, synapses, cores = neurons + n, synapses + s, cores + c
        chips = max(math.ceil(cores / res.CORES_PER_CHIP), math.ceil(neurons / res.NEURONS_PER_CHIP),
                    math.ceil(synapses / res.SYNAPSES_PER_CHIP), 1)
        rows.append({"memories": m, "neurons": neurons, "synapses": synapses, "cores": cores, "chips": chips,
                     "fits_one_chip": chips == 1, "layers": out_layers})
    return rows


def parity(memory: Any, questions: Sequence[str], relevant: Sequence[Sequence[int]] | None = None, *,
           namespace: str | None = None, cfg: NetworkConfig | None = None,
           precisions: Sequence[str] = ("floating_pt", "fixed_pt"), source: str = "") -> dict[str, Any]:
    """Run production and the Lava network on ``questions``; the report as a dict (see module docstring)."""
    cfg = cfg or NetworkConfig()
    relevant = list(relevant) if relevant is not None else [[] for _ in questions]
    w = from_memory(memory, namespace=namespace)
    params = RecallParams.from_config(w.config)
    inputs = encode_queries(memory, w, questions)
    memory.search_ids(list(questions[:1]), cfg.k, namespace=namespace)  # warm the production path
    t0 = time.perf_counter()
    prod = memory.search_ids(list(questions), cfg.k, namespace=namespace)[1]
    prod_s = (time.perf_counter() - t0) / max(len(questions), 1)
    counts = w.counts()
    report: dict[str, Any] = {
        "source": source, "questions": len(questions), "namespace": namespace, "k": cfg.k,
        "network": {"config": cfg.__dict__, "recall": params.__dict__, "counts": counts},
        "production": {"recall_all_at_10": recall_all(prod, relevant), "cpu_s_per_question": prod_s},
        "parity": {}, "recall_all_at_10": {"production": recall_all(prod, relevant)},
        "loihi_estimate": {"operation_costs": OPERATION_COSTS}, "rankings": {"production": prod.tolist()},
    }
    for prec in precisions:
        r: NetworkResult = run_network(w, inputs, params, prec, cfg)
        n = max(len(questions), 1)
        layers = build_layers(w, prec, cfg)
        neurons = w.memories + w.concepts
        syn = sum(layers.synapses().values())
        cores = max(1, math.ceil(max(neurons / res.NEURONS_PER_CORE, syn * 8 / (8 * res.SYNAPTIC_BYTES_PER_CORE))))
        key = "float" if prec == "floating_pt" else "fixed"
        report["parity"][key] = {
            **agreement(r.ids, prod, cfg.k),
            "recall_all_at_10": recall_all(r.ids, relevant),
            "time_steps_per_question": r.steps / n,
            "chip_steps_per_question": r.extra["chip_steps_per_question"],
            "spikes_per_question": r.spikes / n, "synaptic_events_per_question": r.syn_events / n,
            "cpu_s_per_question": r.wall_s / n, "lava_wall_s": r.extra["lava_wall_s"],
            "synapses": layers.synapses(),
        }
        report["recall_all_at_10"][key] = recall_all(r.ids, relevant)
        report["loihi_estimate"][key] = {**loihi_estimate(r.extra["chip_steps_per_question"], neurons, r.syn_events / n,
                                                          cores), "cores": cores}
        report["rankings"][key] = r.ids.tolist()
    report["resources"] = {"limits": res.limits(), "sizes": resources(counts, cfg)}
    return report


def locomo_questions(memory_ids: Sequence[int], part: Any) -> tuple[list[str], list[list[int]]]:
    """A LoCoMo partition's questions and their evidence as memory ids (docs in order = ``memory_ids``)."""
    pos = {d.id: int(m) for d, m in zip(part.docs, memory_ids)}
    return [q.text for q in part.queries], [[pos[g] for g in q.gold if g in pos] for q in part.queries]


def _fmt(x: Any, nd: int = 3) -> str:
    return "—" if x is None else f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def to_markdown(rep: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    lines = ["# Neuromorphic recall: Lava network vs the production default recall", "",
             f"Source: {rep['source'] or 'store'}; {rep['questions']} questions; k = {rep['k']}.", "",
             "| model | top-1 agreement | top-10 overlap | recall_all@10 | steps / q (Lava) | steps / q (chip) "
             "| spikes / q | synaptic events / q | CPU s / q |", "|---|---|---|---|---|---|---|---|---|",
             f"| production | 1.000 | 1.000 | {_fmt(rep['production']['recall_all_at_10'])} | — | — | — | — "
             f"| {rep['production']['cpu_s_per_question']:.4f} |"]
    for key, p in rep["parity"].items():
        lines.append(f"| {key} | {p['top1_agreement']:.3f} | {p['top10_overlap']:.3f} | {_fmt(p['recall_all_at_10'])} "
                     f"| {p['time_steps_per_question']:.0f} | {p['chip_steps_per_question']:.0f} "
                     f"| {p['spikes_per_question']:.0f} | {p['synaptic_events_per_question']:.0f} "
                     f"| {p['cpu_s_per_question']:.4f} |")
    lines += ["", "## Loihi 2 estimate per question (estimate; published Loihi figures)", "",
              "| model | cores | energy µJ | latency µs |", "|---|---|---|---|"]
    for key in rep["parity"]:
        e = rep["loihi_estimate"][key]
        lines.append(f"| {key} | {e['cores']} | {e['energy_uj']:.1f} | {e['latency_us']:.1f} |")
    lines += ["", f"Source of the per-operation figures: {OPERATION_COSTS['source']}.", "",
              "## Resources of the whole recall", "", "| memories | neurons | synapses | cores | chips |",
              "|---|---|---|---|---|"]
    for r in rep["resources"]["sizes"]:
        lines.append(f"| {r['memories']:,} | {r['neurons']:,} | {r['synapses']:,} | {r['cores']:,} | {r['chips']} |")
    c = rep["network"]["counts"]
    lines += ["", f"Deployed store: {c['memories']} memories, {c['keys']} keys, {c['concepts']} concept cells, "
              f"{c['vocabulary']} BM25 words.", ""]
    return "\n".join(lines)


def plot(rep: dict[str, Any], path: Path) -> None:
    """Three panels: agreement with production, recall_all@10 per model, and the per-question cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(rep["parity"])
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.6))
    x = np.arange(len(keys))
    for off, metric, label in ((-0.2, "top1_agreement", "top-1 agreement"), (0.2, "top10_overlap", "top-10 overlap")):
        vals = [rep["parity"][k][metric] for k in keys]
        ax[0].bar(x + off, vals, 0.4, label=label)
        for xi, v in zip(x + off, vals):
            ax[0].text(xi, v + 0.01, f"{v:.3f}", ha="center", fontsize=8)
    ax[0].set_xticks(x, keys)
    ax[0].set_ylim(0, 1.12)
    ax[0].set_title("agreement with production")
    ax[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    models = ["production", *keys]
    vals = [rep["recall_all_at_10"].get(k) or 0.0 for k in models]
    ax[1].bar(models, vals, color=["grey"] + ["C0"] * len(keys))
    for i, v in enumerate(vals):
        ax[1].text(i, v + 0.01, f"{v:.3f}", ha="center")
    ax[1].set_ylim(0, 1.05)
    ax[1].set_title("recall_all@10")
    hw = [k for k in keys if k == "fixed"]  # only the bit-accurate model maps onto the chip
    labels = ["production\nCPU"] + [f"Lava {k}\nCPU sim" for k in keys] + ["Loihi 2\nestimate"] * len(hw)
    ms = [rep["production"]["cpu_s_per_question"] * 1e3] + [rep["parity"][k]["cpu_s_per_question"] * 1e3 for k in keys] \
        + [rep["loihi_estimate"][k]["latency_us"] * 1e-3 for k in hw]
    bars = ax[2].bar(range(len(ms)), ms, color=["grey"] + ["C0"] * len(keys) + ["C2"] * len(hw))
    for i, k in enumerate(hw):
        bars[1 + len(keys) + i].set_hatch("//")
        ax[2].text(1 + len(keys) + i, ms[1 + len(keys) + i] * 1.15,
                   f"{rep['loihi_estimate'][k]['energy_uj']:.0f} µJ", ha="center", fontsize=8)
    ax[2].set_xticks(range(len(ms)), labels, fontsize=8)
    ax[2].set_yscale("log")
    ax[2].set_ylim(0.1, max(ms) * 3)
    ax[2].set_ylabel("ms per question")
    ax[2].set_title("time per question (hatched: estimate)")
    fig.suptitle(f"Lava recall vs production — {rep['source'] or 'store'}, {rep['questions']} questions")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(rep: dict[str, Any], out: Path) -> dict[str, Path]:
    """``recall_parity.json``, ``.md`` and ``.png`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "recall_parity.json", "md": out / "recall_parity.md", "png": out / "recall_parity.png"}
    paths["json"].write_text(json.dumps(rep, indent=1))
    paths["md"].write_text(to_markdown(rep))
    plot(rep, paths["png"])
    return paths
