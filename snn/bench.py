"""Report code of ``hhmem snn roundtrip`` and ``hhmem snn lif-baseline``.

Each evaluator returns a metric dict (JSON-serialisable) with a primary metric; the ``write_*``
helpers render JSON + Markdown + a PNG plot into an output folder.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import functional as F
from .encoders import make_codec

#: Sweeps of the round-trip report: code -> list of config overrides.
DEFAULT_SWEEPS: dict[str, list[dict[str, Any]]] = {
    "rate": [{"num_steps": t} for t in (4, 8, 16, 32, 64, 128)],
    "latency": [{"num_steps": t} for t in (4, 8, 16, 32, 64, 128)],
    "sigma_delta": [{"num_steps": 4, "bits": b} for b in (2, 3, 4, 5, 6, 8, 10, 12)],
    "bernoulli": [{"num_steps": t} for t in (16, 64, 256, 1024, 2048)],
}
DETERMINISTIC = ("rate", "latency", "sigma_delta")


# --------------------------------------------------------------------------- data
def _data_text(name: str) -> str:
    return resources.files("snn").joinpath("data", name).read_text(encoding="utf-8")


def paraphrase_pairs() -> list[dict[str, str]]:
    """The bundled paraphrase pairs: ``[{"fact", "question"}, ...]``."""
    return json.loads(_data_text("paraphrase_pairs.json"))


def distractors() -> list[str]:
    """The bundled background sentences."""
    return [line.strip() for line in _data_text("distractors.txt").splitlines() if line.strip()]


def default_corpus() -> list[str]:
    """The default round-trip corpus: demo corpus texts, paraphrase facts and questions, distractors."""
    texts = [json.loads(line)["text"] for line in _data_text("demo_corpus.jsonl").splitlines() if line.strip()]
    for p in paraphrase_pairs():
        texts += [p["fact"], p["question"]]
    texts += distractors()
    seen: set[str] = set()
    return [t for t in texts if not (t in seen or seen.add(t))]


def read_corpus(path: str | Path) -> list[str]:
    """Texts from a ``.jsonl`` file (a ``"text"`` field, or a JSON string, per line) or a text file (one per line)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"corpus file {str(p)!r} does not exist")
    lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if p.suffix == ".jsonl":
        out = []
        for i, ln in enumerate(lines):
            try:
                obj = json.loads(ln)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}: line {i + 1} is not JSON ({exc.msg})") from None
            text = obj.get("text") if isinstance(obj, dict) else obj
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{p}: line {i + 1} has no non-empty \"text\" string")
            out.append(text)
        lines = out
    if len(lines) < 12:
        raise ValueError(f"corpus file {p} has {len(lines)} texts; the round trip needs at least 12")
    return lines


def versions() -> dict[str, str]:
    """Library versions recorded in every report."""
    out = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    for mod in ("snntorch", "nir", "nirtorch", "sentence_transformers", "hybrid"):
        try:
            m = __import__(mod)
            out[mod] = str(getattr(m, "__version__", "?"))
        except Exception:  # noqa: BLE001 - optional stacks are reported as absent
            out[mod] = "absent"
    return out


# --------------------------------------------------------------------------- round trip
def leave_one_out_topk(store: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ids ``[n, k]`` of the top-``k`` for query ``i`` in the production two-stage Hopfield retriever
    over ``store`` with row ``i`` itself excluded."""
    from hybrid.retriever import HopfieldRetriever

    r = HopfieldRetriever(store.shape[1], device="cpu")
    r.add(store, ids=np.arange(store.shape[0]))
    _, ids = r.search(queries, k + 1)
    out = np.full((len(queries), k), -1, dtype=np.int64)
    for i, row in enumerate(ids):
        kept = [j for j in row if j != i and j >= 0][:k]
        out[i, : len(kept)] = kept
    return out


def retrieval_preservation(store: np.ndarray, original: np.ndarray, decoded: np.ndarray, base_ids: np.ndarray | None = None,
                           k: int = 10) -> dict[str, float]:
    """Fraction of queries whose top-1 / top-``k`` (as a set) are unchanged after the round trip."""
    a = base_ids if base_ids is not None else leave_one_out_topk(store, original, k)
    b = leave_one_out_topk(store, decoded, k)
    top1 = float(np.mean(a[:, 0] == b[:, 0]))
    topk = float(np.mean([set(x) == set(y) for x, y in zip(a, b)]))
    overlap = float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))
    return {"top1_unchanged": top1, f"top{k}_unchanged": topk, f"overlap_at_{k}": overlap}


def evaluate_codec(x: np.ndarray, code: str, overrides: dict[str, Any], base_ids: np.ndarray | None = None,
                   k: int = 10) -> dict[str, Any]:
    """Round-trip ``x`` through one codec setting; returns the row of the report."""
    enc, dec = make_codec(code, **overrides)
    xt = torch.from_numpy(np.ascontiguousarray(x))
    # Encode in row chunks so that a long Bernoulli train stays within ~2^25 spike entries.
    chunk = max(1, 2**25 // (enc.config.num_steps * 2 * x.shape[1]))
    t_enc = t_dec = 0.0
    parts, n_spikes, max_per_channel, steps, channels = [], 0, 0.0, 0, 0
    for s in range(0, len(x), chunk):
        t0 = time.perf_counter()
        z = enc(xt[s : s + chunk])
        t1 = time.perf_counter()
        parts.append(dec(z))
        t_enc, t_dec = t_enc + t1 - t0, t_dec + time.perf_counter() - t1
        n_spikes += int((z != 0).sum())
        max_per_channel = max(max_per_channel, float(z.ne(0).sum(0).max()))
        steps, channels = int(z.shape[0]), int(z.shape[2])
    xd = torch.cat(parts)
    cos = F.rowwise_cosine(xd, xt).numpy()
    decoded = xd.numpy()
    zero = ~np.any(decoded != 0, axis=1)
    decoded[zero] = 1e-6  # a cue with no spikes has no direction; keep the row searchable (it will miss)
    row: dict[str, Any] = {
        "code": code,
        **enc.config.to_dict(),
        "time_steps": steps,
        "channels": channels,
        "binary": code != "sigma_delta",
        "mean_cosine": float(cos.mean()),
        "p01_cosine": float(np.percentile(cos, 1)),
        "min_cosine": float(cos.min()),
        "spikes_per_dim": n_spikes / (len(x) * x.shape[1]),
        "max_spikes_per_channel": max_per_channel,
        "payload_bits_per_spike": int(overrides.get("bits", 8)) if code == "sigma_delta" else 1,
        "encode_ms_per_1k": 1e6 * t_enc / len(x),
        "decode_ms_per_1k": 1e6 * t_dec / len(x),
    }
    row.update(retrieval_preservation(x, x, decoded, base_ids, k))
    return row


@dataclass(frozen=True)
class RoundTripConfig:
    """Settings of the round-trip report.

    Attributes:
        sweeps: code -> list of config overrides (see :data:`DEFAULT_SWEEPS`).
        k: the ``k`` of the retrieval-preservation check (top-1 is always reported).
        seed: torch/NumPy seed (the Bernoulli encoder has its own ``seed``, 0 by default).
    """

    sweeps: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: DEFAULT_SWEEPS)
    k: int = 10
    seed: int = 0


def run_roundtrip(x: np.ndarray, config: RoundTripConfig | None = None, progress: bool = False) -> dict[str, Any]:
    """Evaluate every codec setting on embeddings ``x`` ``[n, d]``; returns the report dict.

    The primary metric is ``summary.best_deterministic_le1.mean_cosine``: the best mean round-trip
    cosine of a deterministic code that spends at most one spike per dimension.
    """
    from tqdm.auto import tqdm

    cfg = config or RoundTripConfig()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) < cfg.k + 2:
        raise ValueError(f"x must be [n, d] with n >= k + 2 = {cfg.k + 2}, got shape {x.shape}")
    base = leave_one_out_topk(x, x, cfg.k)
    jobs = [(c, o) for c, lst in cfg.sweeps.items() for o in lst]
    rows = [evaluate_codec(x, c, o, base, cfg.k) for c, o in tqdm(jobs, desc="round trip", disable=not progress)]
    return {"config": {**asdict(cfg)}, "n_vectors": int(len(x)), "dim": int(x.shape[1]), "rows": rows,
            "summary": summarise_roundtrip(rows, cfg.k)}


def summarise_roundtrip(rows: Sequence[dict[str, Any]], k: int = 10) -> dict[str, Any]:
    """Best settings: deterministic with <= 1 spike/dim, and the cheapest Bernoulli reaching 0.99."""
    det = [r for r in rows if r["code"] in DETERMINISTIC and r["spikes_per_dim"] <= 1.0]
    best = max(det, key=lambda r: r["mean_cosine"]) if det else None
    per_code = {}
    for code in {r["code"] for r in rows}:
        rs = [r for r in rows if r["code"] == code]
        per_code[code] = max(rs, key=lambda r: r["mean_cosine"])
    bern = [r for r in rows if r["code"] == "bernoulli"]
    bern_099 = [r for r in bern if r["mean_cosine"] >= 0.99]
    ok = [r for r in det if r["mean_cosine"] >= 0.999]
    cheapest = {}
    for code in DETERMINISTIC:
        rs = [r for r in ok if r["code"] == code]
        if rs:
            cheapest[code] = min(rs, key=lambda r: (r["time_steps"] * r["payload_bits_per_spike"], r["spikes_per_dim"]))
    binary = [r for r in det if r["binary"]]
    return {
        "best_deterministic_le1": best,
        "best_binary_le1": max(binary, key=lambda r: r["mean_cosine"]) if binary else None,
        "cheapest_ge_0.999_le1": cheapest,
        "best_per_code": per_code,
        "bernoulli_cheapest_ge_0.99": min(bern_099, key=lambda r: r["num_steps"]) if bern_099 else None,
        "deterministic_top1_ge_0.99": [
            {"code": r["code"], "num_steps": r["num_steps"], "bits": r.get("bits")}
            for r in rows if r["code"] in DETERMINISTIC and r["top1_unchanged"] >= 0.99
        ],
    }


def _setting(r: dict[str, Any]) -> str:
    return f"bits={r['bits']}" if r["code"] == "sigma_delta" else f"T={r['num_steps']}"


def roundtrip_markdown(report: dict[str, Any]) -> str:
    """The round-trip report as a Markdown table."""
    k = report["config"]["k"]
    lines = [
        "# Spike-code round trip",
        "",
        f"{report['n_vectors']} embeddings of dimension {report['dim']} (encoder: {report.get('encoder', '?')}); "
        f"retrieval preservation in the production two-stage Hopfield retriever, leave-one-out, k={k}.",
        "",
        f"| code | setting | time steps | spikes/dim | mean cos | p1 cos | top-1 unchanged | top-{k} unchanged | overlap@{k} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['code']} | {_setting(r)} | {r['time_steps']} | {r['spikes_per_dim']:.3f} | {r['mean_cosine']:.5f} "
            f"| {r['p01_cosine']:.5f} | {r['top1_unchanged']:.3f} | {r[f'top{k}_unchanged']:.3f} | {r[f'overlap_at_{k}']:.3f} |"
        )
    s = report["summary"]
    b = s["best_deterministic_le1"]
    lines += ["", "## Summary", ""]
    if b:
        lines.append(f"- Best deterministic code with <= 1 spike per dimension: **{b['code']} {_setting(b)}**, "
                     f"mean cosine {b['mean_cosine']:.5f} (p1 {b['p01_cosine']:.5f}), {b['spikes_per_dim']:.3f} spikes/dim, "
                     f"top-1 unchanged {b['top1_unchanged']:.3f}.")
    bin_ = s["best_binary_le1"]
    if bin_:
        lines.append(f"- Best binary-spike deterministic code with <= 1 spike per dimension: **{bin_['code']} {_setting(bin_)}**, "
                     f"mean cosine {bin_['mean_cosine']:.5f} (p1 {bin_['p01_cosine']:.5f}), {bin_['spikes_per_dim']:.3f} spikes/dim.")
    for code, r in s["cheapest_ge_0.999_le1"].items():
        lines.append(f"- Cheapest {code} setting with mean cosine >= 0.999 and <= 1 spike/dim: {_setting(r)} "
                     f"(mean {r['mean_cosine']:.5f}, {r['spikes_per_dim']:.3f} spikes/dim, {r['time_steps']} steps).")
    bb = s["bernoulli_cheapest_ge_0.99"]
    if bb:
        lines.append(f"- Cheapest Bernoulli setting with mean cosine >= 0.99: **T={bb['num_steps']}** "
                     f"(mean {bb['mean_cosine']:.5f}, {bb['spikes_per_dim']:.1f} spikes/dim).")
    best_b = s["best_per_code"].get("bernoulli")
    if best_b:
        lines.append(f"- Best Bernoulli setting: T={best_b['num_steps']} (mean {best_b['mean_cosine']:.5f}, "
                     f"{best_b['spikes_per_dim']:.1f} spikes/dim).")
    lines.append("")
    return "\n".join(lines)


def roundtrip_plot(report: dict[str, Any], path: Path) -> None:
    """Mean round-trip cosine (1 - cos, log) against spikes per dimension, one line per code."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    for code in dict.fromkeys(r["code"] for r in report["rows"]):
        rs = [r for r in report["rows"] if r["code"] == code]
        ax[0].plot([r["spikes_per_dim"] for r in rs], [max(1 - r["mean_cosine"], 1e-7) for r in rs], "o-", label=code)
        ax[1].plot([r["spikes_per_dim"] for r in rs], [r["top1_unchanged"] for r in rs], "o-", label=code)
    for a in ax:
        a.set_xscale("log")
        a.set_xlabel("spikes per dimension")
        a.axvline(1.0, color="grey", lw=0.8, ls=":")
        a.legend()
    ax[0].set_yscale("log")
    ax[0].axhline(1e-3, color="red", lw=0.8, ls="--")
    ax[0].axhline(1e-2, color="orange", lw=0.8, ls="--")
    ax[0].set_ylabel("1 - mean round-trip cosine")
    ax[1].set_ylabel("top-1 unchanged (fraction)")
    fig.suptitle(f"Spike-code round trip on {report['n_vectors']} embeddings")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out_dir: str | Path, name: str, report: dict[str, Any], markdown: str,
                 plot: Callable[[dict[str, Any], Path], None]) -> dict[str, Path]:
    """Write ``<name>.json``, ``<name>.md`` and ``<name>.png`` into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{name}.json", "md": out / f"{name}.md", "png": out / f"{name}.png"}
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=_json_default), encoding="utf-8")
    tmp.replace(paths["json"])
    paths["md"].write_text(markdown, encoding="utf-8")
    plot(report, paths["png"])
    return paths


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "value"):
        return o.value
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
