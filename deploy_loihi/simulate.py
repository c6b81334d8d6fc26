"""``hhmem loihi simulate``: learn associations in Lava, run N-hop chain recalls, compare with production.

Steps (all Lava runs in Lava's CPU simulation, each under a hard deadline):

1. Memories (texts) from a store, a LoCoMo file or the bundled demo corpus (+ test distractors),
   embedded with the real MiniLM encoder; grouped into chains of ``hops + 1`` consecutive memories.
2. Pattern separation: Lava ``GradedEncoder → Dense(P) → KWTA`` in floating and fixed point, vs the
   torch reference ``kwta(P x)`` (floating) and the production integer path ``kwta(P q(x))``.
3. Hebbian learning of the chain links in Lava (``HebbianAssociation``), vs the production counts.
4. ``MultiHopRecall`` of every chain head, vs the production chain recall (per-hop code overlap,
   recalled memory, recall), with spike / synaptic-operation counts per recall and wall times.
5. Winner selection by neuron dynamics (``kwta_dynamics.ThresholdKWTA``, a bit-serial threshold
   search) on every memory's projection, vs exact top-k: exact-set rate, overlap, extra winners, steps.
6. A Loihi 2 resource estimate for 1K, 20K and 100K memories (:mod:`deploy_loihi.resources`).
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deploy_loihi import reference as R
from deploy_loihi import resources
from deploy_loihi.fixed import DEFAULT_MESSAGE_BITS, MAX_MESSAGE_BITS, scale_for_message_bits
from deploy_loihi.network import (
    Precision,
    learn_hebbian,
    run_kwta,
    run_kwta_dynamics,
    run_multihop,
    run_with_deadline,
)


@dataclass(frozen=True)
class SimulateConfig:
    """Settings of one simulation (symbols: N code dimension, k winners, H hops, M memories)."""

    memories: int = 200
    code_dim: int = 2048
    k: int = 16
    hops: int = 3
    w_cap: int = 1
    seed: int = 0
    num_message_bits: int = DEFAULT_MESSAGE_BITS
    timeout_s: float = 600.0
    #: Search iterations of the floating-point threshold search's value phase (integer + fraction bits).
    float_search_bits: int = 24

    def __post_init__(self) -> None:
        for name, lo in (("memories", 2), ("code_dim", 2), ("k", 1), ("hops", 1), ("w_cap", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        b = self.num_message_bits
        if isinstance(b, bool) or not isinstance(b, int) or not 2 <= b <= MAX_MESSAGE_BITS:
            raise ValueError(f"num_message_bits must be an int in [2, {MAX_MESSAGE_BITS}], got {b!r}")
        if self.k > self.code_dim:
            raise ValueError(f"k must be <= code_dim={self.code_dim}, got {self.k}")
        if self.memories < self.hops + 1:
            raise ValueError(f"memories must be >= hops + 1 = {self.hops + 1} to form a chain, got {self.memories}")


def bundled_texts() -> list[str]:
    """The demo corpus and the distractor sentences shipped with hybrid (``hybrid.data``)."""
    from hybrid.data import demo_corpus, distractors

    return [m["text"] for m in demo_corpus()] + distractors()


def store_texts(path: str | Path) -> list[str]:
    from hybrid.memory import Memory

    mem = Memory.open(path, create=False)
    try:
        out, off = [], 0
        while True:
            batch = mem.list(limit=500, offset=off)
            if not batch:
                break
            out += [r.text for r in batch]
            off += len(batch)
        return out
    finally:
        mem.close()


def locomo_texts(path: str | Path) -> list[str]:
    data = json.loads(Path(path).read_text())
    out = []
    for conv in data if isinstance(data, list) else [data]:
        c = conv.get("conversation", conv)
        for key in sorted(k for k in c if k.startswith("session_") and isinstance(c[k], list)):
            out += [t["text"] for t in c[key] if isinstance(t, dict) and t.get("text")]
    return out


def _code_overlap(a: np.ndarray, b_mask: np.ndarray, k: int) -> float:
    """Mean |a ∩ b| / k over rows (a: winner indices -1 padded, b: bool mask)."""
    hits = [np.count_nonzero(b_mask[i][row[row >= 0]]) for i, row in enumerate(a)]
    return float(np.mean(hits) / k)


def simulate(cfg: SimulateConfig, texts: list[str], *, encoder=None, progress: bool = True) -> dict:
    """Run the whole comparison and return the report dict (see module docstring)."""
    import torch

    from hybrid import functional as F

    if len(texts) < cfg.memories:
        raise ValueError(f"need {cfg.memories} memories, the source has {len(texts)}")
    if encoder is None:
        from hybrid.encoder import load_encoder

        encoder = load_encoder("default", device="cpu")
    t0 = time.perf_counter()
    x = encoder.encode(texts[: cfg.memories]).astype(np.float64)
    encode_s = time.perf_counter() - t0
    m, d = x.shape
    n, k, hops = cfg.code_dim, cfg.k, cfg.hops
    p = F.sign_projection(d, n, cfg.seed).numpy()
    chain_len = hops + 1
    heads = np.arange(0, m - hops, chain_len)
    pre = np.concatenate([heads + i for i in range(hops)])
    post = pre + 1
    report: dict = {"config": asdict(cfg), "memories": int(m), "dim_in": int(d), "chains": int(len(heads)),
                    "associations": int(len(pre)), "encode_s": encode_s}

    # --- production path (torch functions of hybrid.functional) ---
    xt = torch.from_numpy(x).float()
    t0 = time.perf_counter()
    ref_float = F.kwta(xt @ torch.from_numpy(p).float().T, k).numpy()
    h_int = torch.from_numpy(R.project(x, p, fixed=True, num_message_bits=cfg.num_message_bits))
    stored = F.kwta(h_int, k).numpy()
    scale = scale_for_message_bits(cfg.num_message_bits)
    report["quant_scale"] = scale
    if scale <= F.MAX_QUANT_SCALE:  # the production function itself, at the same payload
        prod_codes = F.pattern_separate(xt, torch.from_numpy(p), k, scale=scale).numpy()
        report["reference_matches_pattern_separate"] = bool(np.array_equal(prod_codes, stored))
    w_prod = R.hebbian_counts(stored[pre], stored[post], n)
    if hasattr(F, "hebbian_update"):
        w_t = F.hebbian_update(torch.zeros((n, n), dtype=torch.uint8), torch.from_numpy(stored[pre]),
                               torch.from_numpy(stored[post]))
        report["reference_matches_hybrid_hebbian_update"] = bool(np.array_equal(w_t.numpy().astype(np.int64), w_prod))
    codes_ref, mems_ref = R.chain_recall(x[heads], p, stored, w_prod, k=k, hops=hops, w_cap=cfg.w_cap, fixed=True,
                                         num_message_bits=cfg.num_message_bits)
    prod_s = time.perf_counter() - t0
    truth = heads[:, None] + np.arange(chain_len)[None, :]
    report["production"] = {
        "wall_s": prod_s,
        "recall_per_hop": [float(np.mean(mems_ref[:, t] == truth[:, t])) for t in range(chain_len)],
    }
    report["production"]["recall"] = float(np.mean(mems_ref[:, 1:] == truth[:, 1:]))
    report["production_path_check"] = _check_associative(x, heads, pre, post, stored, mems_ref, cfg)

    runs: dict = {}
    for prec in Precision:
        fixed = prec is Precision.FIXED
        if progress:
            print(f"[loihi simulate] {prec.value}: k-WTA, Hebbian learning, {hops}-hop recall ...", flush=True)
        kw = run_with_deadline(run_kwta, x, p, k, precision=prec, num_message_bits=cfg.num_message_bits,
                               timeout_s=cfg.timeout_s)
        kwta_ref_mask = R.winners_to_mask(ref_float, n)
        entry = {
            "kwta": {
                "exact_vs_torch_float": float(np.mean(np.all(kw.winners == ref_float, axis=1))),
                "overlap_vs_torch_float": _code_overlap(kw.winners, kwta_ref_mask, k),
                "exact_vs_production_int": float(np.mean(np.all(kw.winners == stored, axis=1))),
                "num_steps": kw.num_steps, "wall_s": kw.wall_s,
            }
        }
        lava_stored = kw.winners if not fixed else stored
        heb = run_with_deadline(learn_hebbian, stored[pre], stored[post], n, precision=prec, timeout_s=cfg.timeout_s)
        entry["hebbian"] = {"identical_to_production": bool(np.array_equal(heb.weights, w_prod)),
                            "max_abs_diff": int(np.abs(heb.weights - w_prod).max()),
                            "num_steps": heb.num_steps, "wall_s": heb.wall_s}
        mh = run_with_deadline(run_multihop, x[heads], p, lava_stored, heb.weights, k=k, hops=hops, w_cap=cfg.w_cap,
                               precision=prec, num_message_bits=cfg.num_message_bits, timeout_s=cfg.timeout_s)
        per_hop_overlap = [_code_overlap(mh.codes[t], codes_ref[t], k) for t in range(chain_len)]
        per_hop_exact = [float(np.mean([set(r[r >= 0].tolist()) == set(np.flatnonzero(c).tolist())
                                        for r, c in zip(mh.codes[t], codes_ref[t])])) for t in range(chain_len)]
        recall_hop = [float(np.mean(mh.memories[:, t] == truth[:, t])) for t in range(chain_len)]
        cost = _costs(mh, x[heads], p, lava_stored, np.minimum(heb.weights, cfg.w_cap), cfg)
        entry["multihop"] = {
            "code_overlap_per_hop": per_hop_overlap, "code_exact_per_hop": per_hop_exact,
            "memory_agreement_per_hop": [float(np.mean(mh.memories[:, t] == mems_ref[:, t])) for t in range(chain_len)],
            "recall_per_hop": recall_hop, "recall": float(np.mean(mh.memories[:, 1:] == truth[:, 1:])),
            "num_steps": mh.num_steps, "wall_s": mh.wall_s, "wall_s_per_recall": mh.wall_s / len(heads), **cost,
        }
        entry["multihop"]["recall_delta_points"] = 100.0 * (entry["multihop"]["recall"] - report["production"]["recall"])
        entry["kwta_dynamics"] = _dynamics(x, p, k, prec, ref_float if not fixed else stored, cfg)
        runs[prec.value] = entry
    report["lava"] = runs
    report["resources"] = {
        "limits": resources.limits(),
        "estimates": [resources.estimate(mm, code_dim=n, k=k, dim_in=d, hops=hops, w_cap=cfg.w_cap)
                      for mm in (1_000, 20_000, 100_000)],
        "estimates_unrolled_as_simulated": [resources.estimate(mm, code_dim=n, k=k, dim_in=d, hops=hops,
                                                               w_cap=cfg.w_cap, unrolled=True)
                                            for mm in (1_000, 20_000, 100_000)],
    }
    report["versions"] = _versions()
    return report


def search_bits(dim_in: int, cfg: SimulateConfig, fixed: bool) -> tuple[int, int]:
    """``(value_bits, frac_bits)`` of the threshold search for projections of unit vectors.

    Fixed point: ``|h| <= s √d + d/2`` (``s`` the payload scale), value_bits = bits of that bound + sign.
    Floating point: ``|h| <= 2 √d`` (Lava's floating ``Dense`` ignores ``weight_exp``, so the ±2
    projection weights double the current); the rest of ``float_search_bits`` goes to fraction bits.
    """
    from deploy_loihi.fixed import PROJECTION_WEIGHT, STATE_BITS

    if fixed:
        bound = scale_for_message_bits(cfg.num_message_bits) * np.sqrt(dim_in) + dim_in / 2
    else:
        bound = PROJECTION_WEIGHT * np.sqrt(dim_in)
    vb = min(int(np.ceil(np.log2(bound + 1))) + 1, STATE_BITS)
    return (vb, 0) if fixed else (vb, max(cfg.float_search_bits - vb, 0))


def _dynamics(x: np.ndarray, p: np.ndarray, k: int, prec: Precision, ref: np.ndarray, cfg: SimulateConfig) -> dict:
    """Threshold-search k-WTA (with and without the index tie phase) vs exact top-k ``ref [B, k]``."""
    fixed = prec is Precision.FIXED
    vb, fb = search_bits(x.shape[1], cfg, fixed)
    out = {"value_bits": vb, "frac_bits": fb}
    for tie_break in (False, True):
        r = run_with_deadline(run_kwta_dynamics, x, p, k, precision=prec, value_bits=vb, frac_bits=fb,
                              tie_break=tie_break, num_message_bits=cfg.num_message_bits, timeout_s=cfg.timeout_s)
        sets = [set(w[w >= 0].tolist()) for w in r.winners]
        exact = [s == set(rr.tolist()) and c == k for s, rr, c in zip(sets, ref, r.counts)]
        out["tie_phase" if tie_break else "threshold_only"] = {
            "exact_set_rate": float(np.mean(exact)),
            "overlap": float(np.mean([len(s & set(rr.tolist())) / k for s, rr in zip(sets, ref)])),
            "contains_topk": float(np.mean([set(rr.tolist()) <= s for s, rr in zip(sets, ref)])),
            "mean_extra_winners": float(np.mean(r.counts - k)), "max_extra_winners": int(np.max(r.counts - k)),
            "search_steps": r.steps_per_search, "latency_steps": r.steps_per_search + 1,
            "onchip_steps_estimate": 2 * r.steps_per_search + 1,
            "dropped": r.dropped, "num_steps": r.num_steps, "wall_s": r.wall_s,
        }
    return out


def _costs(mh, cues: np.ndarray, p: np.ndarray, stored: np.ndarray, w_eff: np.ndarray, cfg: SimulateConfig) -> dict:
    """Time steps, spikes and synaptic operations per recall, counted from the recorded spikes.

    Synaptic operations = Σ over spikes of the spiking neuron's fan-out (non-zero weights).
    """
    from deploy_loihi.fixed import quantize_graded

    n = p.shape[0]
    fan_c = np.bincount(stored.reshape(-1), minlength=n)  # code unit -> memories containing it
    fan_w = np.count_nonzero(w_eff, axis=1)  # pre unit -> post units
    enc_spikes = np.count_nonzero(quantize_graded(cues, cfg.num_message_bits), axis=1)
    spikes = enc_spikes.astype(np.int64).copy()
    synops = enc_spikes.astype(np.int64) * n
    for t in range(cfg.hops + 1):
        codes = mh.codes[t]
        for i, row in enumerate(codes):
            r = row[row >= 0]
            spikes[i] += r.size
            synops[i] += int(fan_c[r].sum())
            mem = mh.memories[i, t]
            if mem >= 0:
                spikes[i] += 1
                if t < cfg.hops:
                    synops[i] += cfg.k  # memory -> relay
                    spikes[i] += cfg.k  # relay spikes
                    synops[i] += int(fan_w[stored[mem]].sum())
    return {
        "latency_steps_per_recall": 3 * cfg.hops + 2,
        "spikes_per_recall": float(spikes.mean()),
        "synops_per_recall": float(synops.mean()),
        "graded_input_spikes_per_recall": float(enc_spikes.mean()),
    }


def _check_associative(x, heads, pre, post, stored, mems_ref, cfg) -> dict:
    """Cross-check with ``hybrid.associative.AssociativeIndex.chain`` when that module is available."""
    try:
        from hybrid.associative import AssociativeConfig, AssociativeIndex
    except Exception as exc:  # noqa: BLE001
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
    try:
        idx = AssociativeIndex(x.shape[1], AssociativeConfig(code_dim=cfg.code_dim, k=cfg.k, seed=cfg.seed,
                                                             w_cap=cfg.w_cap, center=False,
                                                             quant_scale=scale_for_message_bits(cfg.num_message_bits)))
        ids = list(range(x.shape[0]))
        idx.set_codes(ids, x.astype(np.float32))
        same_codes = bool(np.array_equal(np.sort(np.stack([idx.code_of(i).numpy() for i in ids]), 1), stored))
        idx.link([(int(a), int(b)) for a, b in zip(pre, post)])
        agree = []
        for row in range(len(heads)):
            m0 = int(mems_ref[row, 0])
            chain = [hp.id for hp in idx.chain(m0, cfg.hops)] if m0 >= 0 else []
            chain += [-1] * (cfg.hops - len(chain))
            agree.append(chain == mems_ref[row, 1:].tolist())
        return {"available": True, "codes_identical": same_codes, "chains_identical": float(np.mean(agree))}
    except Exception as exc:  # noqa: BLE001
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("lava-nc", "numpy", "torch", "sentence-transformers", "hhmem"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def to_markdown(rep: dict) -> str:
    """Markdown tables of a :func:`simulate` report."""
    c = rep["config"]
    lines = [
        "# Loihi simulation (Lava CPU, Loihi2SimCfg)", "",
        f"M={rep['memories']} memories, d={rep['dim_in']}, N={c['code_dim']}, k={c['k']}, hops={c['hops']}, "
        f"w_cap={c['w_cap']}, seed={c['seed']}, {rep['chains']} chains, {rep['associations']} associations, "
        f"graded payload {c['num_message_bits']} bits (quantisation scale {rep.get('quant_scale')}).", "",
        "## Parity with the production path", "",
        "| precision | k-WTA exact vs torch float | k-WTA overlap vs torch float | k-WTA exact vs production int "
        "| Hebbian W identical | recall (Lava) | recall (production) | Δ points |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tag, e in rep["lava"].items():
        lines.append(
            f"| {tag} | {e['kwta']['exact_vs_torch_float']:.4f} | {e['kwta']['overlap_vs_torch_float']:.4f} | "
            f"{e['kwta']['exact_vs_production_int']:.4f} | {e['hebbian']['identical_to_production']} | "
            f"{e['multihop']['recall']:.4f} | {rep['production']['recall']:.4f} | {e['multihop']['recall_delta_points']:+.2f} |"
        )
    lines += ["", "## Per-hop code overlap with the production path (|Lava ∩ production| / k)", "",
              "| precision | " + " | ".join(f"hop {t}" for t in range(c["hops"] + 1)) + " |",
              "|---|" + "---|" * (c["hops"] + 1)]
    for tag, e in rep["lava"].items():
        lines.append(f"| {tag} | " + " | ".join(f"{v:.4f}" for v in e["multihop"]["code_overlap_per_hop"]) + " |")
    lines += ["", "## Winner selection by neuron dynamics (ThresholdKWTA) vs exact top-k", "",
              "Reference: the same precision's exact k-WTA (floating: torch float `kwta(P x)`; fixed: production "
              "`pattern_separate`). Latency = search steps + 1 output step; on chip ≈ 2 × search steps + 1 "
              "(counter and broadcast synapses add a step each).", "",
              "| precision | mode | value bits | frac bits | search steps | exact set | overlap | contains top-k "
              "| mean extra | max extra | wall s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for tag, e in rep["lava"].items():
        dyn = e.get("kwta_dynamics")
        if not dyn:
            continue
        for mode in ("threshold_only", "tie_phase"):
            r = dyn[mode]
            lines.append(f"| {tag} | {mode} | {dyn['value_bits']} | {dyn['frac_bits']} | {r['search_steps']} | "
                         f"{r['exact_set_rate']:.4f} | {r['overlap']:.4f} | {r['contains_topk']:.4f} | "
                         f"{r['mean_extra_winners']:.3f} | {r['max_extra_winners']} | {r['wall_s']:.2f} |")
    lines += ["", "## Cost per recall", "",
              "| precision | latency steps | spikes | synaptic ops | multi-hop wall s (all cues) | wall s / recall "
              "| Hebbian learn wall s | k-WTA wall s |", "|---|---|---|---|---|---|---|---|"]
    for tag, e in rep["lava"].items():
        mh = e["multihop"]
        lines.append(f"| {tag} | {mh['latency_steps_per_recall']} | {mh['spikes_per_recall']:.1f} | "
                     f"{mh['synops_per_recall']:.0f} | {mh['wall_s']:.2f} | {mh['wall_s_per_recall']:.4f} | "
                     f"{e['hebbian']['wall_s']:.2f} | {e['kwta']['wall_s']:.2f} |")
    lines.append(f"| NumPy reference (incl. codes + W build, not a speed peer) | – | – | – | {rep['production']['wall_s']:.3f} | "
                 f"{rep['production']['wall_s'] / rep['chains']:.5f} | – | – |")
    lines += ["", "## Loihi 2 resource estimate (recurrent mapping: hops run over time)", "",
              "| memories | neurons | synapses | weight memory (KiB) | cores | chips |", "|---|---|---|---|---|---|"]
    for est in rep["resources"]["estimates"]:
        lines.append(f"| {est['memories']:,} | {est['neurons']:,} | {est['synapses']:,} | "
                     f"{est['weight_memory_bytes'] / 1024:,.0f} | {est['cores']} | {est['chips']} |")
    lim = rep["resources"]["limits"]
    lines += ["", "Limits: " + "; ".join(f"{k}: {v}" for k, v in lim["sources"].items()) + "."]
    chk = rep.get("production_path_check", {})
    lines += ["", f"Cross-check with hybrid.associative: {json.dumps(chk)}", ""]
    return "\n".join(lines)


def write_report(rep: dict, out: Path) -> dict[str, Path]:
    """Write ``loihi_simulate.json``, ``.md`` and a per-hop recall plot ``.png`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "loihi_simulate.json", "md": out / "loihi_simulate.md", "png": out / "loihi_simulate.png"}
    paths["json"].write_text(json.dumps(rep, indent=2))
    paths["md"].write_text(to_markdown(rep))
    hops = rep["config"]["hops"]
    xs = np.arange(hops + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(xs - 0.25, rep["production"]["recall_per_hop"], 0.25, label="production")
    for i, (tag, e) in enumerate(rep["lava"].items()):
        ax.bar(xs + 0.25 * i, e["multihop"]["recall_per_hop"], 0.25, label=f"Lava {tag}")
    ax.set_xlabel("hop")
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(xs)
    ax.legend(fontsize=8)
    ax.set_title(f"Chain recall, M={rep['memories']}, N={rep['config']['code_dim']}, k={rep['config']['k']}")
    fig.tight_layout()
    fig.savefig(paths["png"], dpi=120)
    plt.close(fig)
    return paths
