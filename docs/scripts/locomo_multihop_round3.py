"""LoCoMo multi-hop, third round: screen candidate methods with a NumPy re-implementation of the fusion.

The fusion of :class:`hybrid.fusion.FusionSearcher` (dense best-key cosine of the query and its two
cues, BM25, RRF, order and entity spread) is recomputed here over the cached MiniLM embeddings
with the library's own pure functions, so that candidate additions can be compared quickly.
Candidates (docs/evaluation.md, "Multi-hop questions, third round"):

- ``vx``: corpus-vocabulary expansion: the ``m`` vocabulary words (content words of the store)
  nearest to ``c_c`` by MiniLM cosine, used as (a) one BM25 query ``c_c + words`` and/or
  (b) per-word sub-queries (dense or BM25) whose lists are combined by max-RRF;
- ``cov``: coverage-aware re-selection of the top 10 over the expansion words;
- ``name``: a name-conditioned dense list (``c_c`` ranked among the memories holding a name of the
  query), down-weighted;
- ``cons``: consolidated topic keys (unit mean of a seeded spherical k-means cluster of a speaker's
  turns) ranked against ``c_c`` as one more list.

Configuration keys (a config is a JSON object; ``{}`` is the current default): ``m`` expansion
words; ``w_xb`` weight of the BM25 list of ``c_c`` + words; ``w_xd`` / ``w_xbt`` weight of the
max-RRF (``comb: "mean"``: mean-RRF) of the per-word dense / BM25 lists; ``w_ccb`` BM25 of ``c_c``
alone (control); ``cov`` λ and ``keep`` of the coverage selection; ``w_name`` name-conditioned
list; ``w_cons``, ``per``, ``spk`` consolidated keys; ``gate`` expansion only for queries whose
``c_c`` holds a plural word (post hoc). ``--sub cue+word`` makes the dense sub-queries ``c_c + word``.

Usage::

    .venv/bin/python docs/scripts/locomo_multihop_round3.py ../shared/data/locomo/locomo_dev.json \
        --conversations 0,1 --grid round3 --out reports/eval/mh3-c01.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict

import numpy as np

from hybrid.eval.cache import DEFAULT_CACHE_DIR, CachedEncoder
from hybrid.eval.locomo import load_locomo
from hybrid.fusion import (
    context_texts,
    entity_spread,
    order_spread,
    query_cues,
    reciprocal_rank_fusion,
    term_neighbours,
    top_k,
)
from hybrid.linking import _STOPWORDS, _WORD, _stem, extract_terms

DEPTH = 100
K0, W_N, W_C, GAMMA, GAMMA_E, N_S, MAX_DF = 20.0, 0.3, 1.0, 0.5, 0.1, 5, 8


def vocabulary(texts: list[str], min_len: int = 4) -> list[str]:
    """Lower-case content words of the texts that occur at least once in lower case (not names)."""
    seen: dict[str, None] = {}
    for t in texts:
        for tok in _WORD.findall(t):
            if not tok.isalpha() or not tok.islower():
                continue
            low = tok.strip("'-")
            if len(low) >= min_len and low not in _STOPWORDS:
                seen.setdefault(low, None)
    return list(seen)


class Part:
    """Everything one conversation needs: key matrix, BM25, neighbours, vocabulary."""

    def __init__(self, part, enc: CachedEncoder) -> None:
        import bm25s

        self.part = part
        self.texts = [d.text for d in part.docs]
        groups = [d.group for d in part.docs]
        n = len(self.texts)
        ctx = context_texts(self.texts, groups)
        owners = list(range(n)) + [i for i, ex in enumerate(ctx) for _ in ex]
        ktexts = self.texts + [kt for ex in ctx for _, kt in ex]
        kv = enc.encode(ktexts)
        order = np.argsort(np.asarray(owners), kind="stable")
        self.K = kv[order]
        own = np.asarray(owners)[order]
        self.starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
        self.T = kv[:n]  # text keys
        self.bm = bm25s.BM25()
        self.bm.index(bm25s.tokenize(self.texts, stopwords="en", show_progress=False), show_progress=False)
        self.nb = {}
        for i in range(n):
            self.nb[i] = [j for j in (i - 1, i + 1) if 0 <= j < n and groups[j] == groups[i]]
        self.terms = [extract_terms(t) for t in self.texts]
        enb = term_neighbours(self.terms, MAX_DF)
        self.enb = {i: row for i, row in enumerate(enb) if row}
        self.vocab = vocabulary(self.texts)
        self.V = enc.encode(self.vocab)
        self.vstem = [_stem(w) for w in self.vocab]
        pos = {d.id: i for i, d in enumerate(part.docs)}
        self.queries = part.queries
        self.gold = [[pos[g] for g in q.gold] for q in part.queries]
        self.cat = [q.category for q in part.queries]
        qs = [q.text for q in part.queries]
        cues = [query_cues(q) for q in qs]
        self.cn = [c[0] for c in cues]
        self.cc = [c[1] for c in cues]
        self.Q = enc.encode(qs)
        self.QN = enc.encode(self.cn)
        self.QC = enc.encode(self.cc)
        self.enc = enc
        # holders of each name term (e:...) of the store
        self.holders: dict[str, list[int]] = defaultdict(list)
        for i, ts in enumerate(self.terms):
            for t in ts:
                if t.startswith("e:"):
                    self.holders[t].append(i)
        self.plural = [any(len(w) > 3 and w.lower().endswith("s") and not w.lower().endswith("ss")
                           for w in _WORD.findall(cc)) for cc in self.cc]
        self.qnames = [[t for t in extract_terms(q) if t.startswith("e:")] for q in qs]

    # ---------------------------------------------------------------- rankings
    def mem_scores(self, qv: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(qv @ self.K.T, self.starts, axis=1)

    def dense(self, qv: np.ndarray, depth: int = DEPTH) -> np.ndarray:
        s = self.mem_scores(qv)
        return np.argsort(-s, axis=1, kind="stable")[:, :depth]

    def bm25(self, queries: list[str], depth: int = DEPTH) -> np.ndarray:
        import bm25s

        n = len(self.texts)
        out = np.full((len(queries), depth), -1, dtype=np.int64)
        toks = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
        docs, sc = self.bm.retrieve(toks, k=min(depth, n), show_progress=False, n_threads=1)
        for r in range(len(queries)):
            j = 0
            for d, s in zip(docs[r], sc[r]):
                if s > 0:
                    out[r, j] = d
                    j += 1
        return out

    def expansions(self, m: int) -> list[list[int]]:
        """Indices of the m vocabulary words nearest to each query's c_c (words of the query itself left out)."""
        sims = self.QC @ self.V.T
        out = []
        for r, cc in enumerate(self.cc):
            qst = {_stem(w.lower()) for w in _WORD.findall(cc)}
            order = np.argsort(-sims[r], kind="stable")
            out.append([int(i) for i in order if self.vstem[i] not in qst][:m])
        return out


def spherical_kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = 20) -> np.ndarray:
    """Cluster labels of unit rows ``x`` into ``k`` clusters (cosine k-means, seeded, k-means++-like start)."""
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    cent = [x[rng.integers(n)]]
    for _ in range(1, k):
        d = 1 - np.max(x @ np.asarray(cent).T, axis=1)
        d = np.clip(d, 0, None) ** 2
        cent.append(x[rng.choice(n, p=d / d.sum())] if d.sum() > 0 else x[rng.integers(n)])
    c = np.asarray(cent)
    lab = np.zeros(n, dtype=np.int64)
    for _ in range(iters):
        lab = np.argmax(x @ c.T, axis=1)
        for j in range(k):
            mem = x[lab == j]
            if len(mem):
                v = mem.sum(0)
                c[j] = v / (np.linalg.norm(v) + 1e-12)
    return lab


def consolidated_keys(p: Part, per: int, by_speaker: bool) -> np.ndarray:
    """One consolidated key per memory: the unit mean of its topic cluster (clusters of ~``per`` memories,
    within each speaker when ``by_speaker``)."""
    n = len(p.texts)
    groups = [t.split(":", 1)[0] if by_speaker else "" for t in p.texts]
    out = np.zeros_like(p.T)
    for g in sorted(set(groups)):
        idx = np.asarray([i for i in range(n) if groups[i] == g])
        lab = spherical_kmeans(p.T[idx], int(np.ceil(len(idx) / per)))
        for j in np.unique(lab):
            members = idx[lab == j]
            v = p.T[members].sum(0)
            out[members] = v / (np.linalg.norm(v) + 1e-12)
    return out


def combined_rrf(lists: list[np.ndarray], k0: float, how: str = "max") -> dict[int, float]:
    """``max_t`` (``how="max"``) or ``mean_t`` (``"mean"``) of ``1/(k0 + r_t(m))`` over several id
    lists of one query (a memory absent from a list contributes 0 to the mean)."""
    acc: dict[int, float] = {}
    for row in lists:
        for rank, i in enumerate(row.tolist()):
            if i >= 0:
                v = 1.0 / (k0 + rank + 1)
                acc[i] = max(v, acc.get(i, 0.0)) if how == "max" else acc.get(i, 0.0) + v / len(lists)
    return acc


def coverage_select(p: Part, r: int, scores: dict[int, float], words: list[int], lam: float, keep: int,
                    pool: int = 30, k: int = 10) -> list[int]:
    """Greedy top-k: fused score (÷ max) + λ · facility-location gain over the expansion words."""
    s, ids = top_k(scores, max(pool, k))
    ids = [int(i) for i in ids if i >= 0]
    if not words or lam == 0:
        return ids
    smax = max(scores[i] for i in ids)
    sim = np.clip(p.T[ids] @ p.V[words].T, 0, None)  # [pool, m]
    chosen = ids[:keep]
    cov = sim[:keep].max(axis=0) if keep else np.zeros(len(words))
    rest = list(range(keep, len(ids)))
    while len(chosen) < k and rest:
        gains = [scores[ids[j]] / smax + lam * float(np.maximum(sim[j] - cov, 0).sum()) for j in rest]
        b = rest.pop(int(np.argmax(gains)))
        chosen.append(ids[b])
        cov = np.maximum(cov, sim[b])
    return chosen + [i for i in ids if i not in chosen]


def evaluate(parts: list[Part], cfg: dict, cache: dict) -> dict:
    """recall_all@10 overall / per category for one configuration."""
    hit: dict[str, list[int]] = defaultdict(list)
    r50: list[int] = []
    for pi, p in enumerate(parts):
        base = cache[("base", pi)]
        m = cfg.get("m", 0)
        words = cache[("words", pi, m)] if m else None
        extra = []
        if cfg.get("w_xb"):  # BM25 of c_c + expansion words
            xb = cache[("xb", pi, m)]
            if cfg.get("gate"):  # post-hoc: expand only queries whose c_c holds a plural word
                xb = np.where(np.asarray(p.plural)[:, None], xb, -1)
            extra.append((xb, cfg["w_xb"]))
        if cfg.get("w_ccb"):  # control: BM25 of c_c alone
            extra.append((cache[("ccb", pi)], cfg["w_ccb"]))
        fused = reciprocal_rank_fusion([x for x, _ in base + extra], [w for _, w in base + extra], K0)
        for r in range(len(p.queries)):
            sc = fused[r]
            for kind, combine in (("xd", cfg.get("w_xd")), ("xbt", cfg.get("w_xbt"))):
                if combine and (not cfg.get("gate") or p.plural[r]):
                    lists = cache[(kind, pi, m)][r]
                    for i, v in combined_rrf(lists, K0, cfg.get("comb", "max")).items():
                        sc[i] = sc.get(i, 0.0) + combine * v
            if cfg.get("w_cons"):
                row = cache[("cons", pi, cfg["per"], cfg.get("spk", True))][r]
                for rank, i in enumerate(row.tolist()):
                    sc[i] = sc.get(i, 0.0) + cfg["w_cons"] / (K0 + rank + 1)
            if cfg.get("w_name") and p.qnames[r]:
                for i, v in combined_rrf(cache[("name", pi)][r], K0).items():
                    sc[i] = sc.get(i, 0.0) + cfg["w_name"] * v
            sc = entity_spread(order_spread(sc, p.nb, GAMMA), p.enb, GAMMA_E, N_S)
            if cfg.get("cov"):
                ranked = coverage_select(p, r, sc, words[r] if words else [], cfg["cov"], cfg.get("keep", 0))
            else:
                ranked = [int(i) for i in top_k(sc, 50)[1] if i >= 0]
            g = p.gold[r]
            ok = int(all(x in ranked[:10] for x in g))
            hit["overall"].append(ok)
            hit[p.cat[r]].append(ok)
            if p.cat[r] == "multi-hop":
                full = [int(i) for i in top_k(sc, 50)[1] if i >= 0]
                r50.append(int(all(x in full for x in g)))
    out = {c: float(np.mean(v)) for c, v in hit.items()}
    out["multi-hop@50"] = float(np.mean(r50)) if r50 else float("nan")
    return out


def prepare(parts: list[Part], ms: list[int], sub: str, cons: list[tuple[int, bool]] = ()) -> dict:
    cache: dict = {}
    for pi, p in enumerate(parts):
        cache[("base", pi)] = [(p.dense(p.Q), 1.0), (p.dense(p.QN), W_N), (p.dense(p.QC), W_C),
                               (p.bm25([q.text for q in p.queries]), 1.0)]
        cache[("ccb", pi)] = p.bm25(p.cc)
        # name-conditioned: c_c ranked among the holders of each query name (one list per name)
        sc = p.mem_scores(p.QC)
        name_lists = []
        for r, names in enumerate(p.qnames):
            rows = []
            for t in names:
                h = np.asarray(p.holders.get(t, []), dtype=np.int64)
                if len(h):
                    rows.append(h[np.argsort(-sc[r, h], kind="stable")][:DEPTH])
            name_lists.append(rows)
        cache[("name", pi)] = name_lists
        own = p.mem_scores(p.QC)
        for per, spk in cons:
            ck = consolidated_keys(p, per, spk)
            s2 = p.QC @ ck.T + 0.01 * own
            cache[("cons", pi, per, spk)] = np.argsort(-s2, axis=1, kind="stable")[:, :DEPTH]
        for m in ms:
            words = p.expansions(m)
            cache[("words", pi, m)] = words
            cache[("xb", pi, m)] = p.bm25([cc + " " + " ".join(p.vocab[w] for w in ws) for cc, ws in zip(p.cc, words)])
            flat = [w for ws in words for w in ws]
            if sub == "word":
                qv = p.V[flat]
            else:  # c_c + word, encoded
                qv = p.enc.encode([p.cc[r] + " " + p.vocab[w] for r, ws in enumerate(words) for w in ws])
            d = p.dense(qv, DEPTH)
            b = p.bm25([p.vocab[w] for w in flat], DEPTH)
            xd, xbt, j = [], [], 0
            for ws in words:
                xd.append(list(d[j:j + len(ws)]))
                xbt.append(list(b[j:j + len(ws)]))
                j += len(ws)
            cache[("xd", pi, m)] = xd
            cache[("xbt", pi, m)] = xbt
    return cache


def grid(name: str) -> list[dict]:
    """``screen``: every family alone; ``round3``: everything in docs/evaluation.md's third-round table."""
    out: list[dict] = [{}]
    if name not in ("screen", "round3"):
        raise SystemExit(f"--grid must be screen or round3, got {name!r}")
    out += [{"w_ccb": w} for w in (0.5, 1.0, 1.5)]  # control: BM25 of c_c without expansion words
    for m in (5, 10, 20):
        out += [{"m": m, "w_xb": w} for w in (0.3, 0.5, 1.0)]
        out += [{"m": m, "w_xd": w} for w in (0.3, 0.5, 1.0)]
        out += [{"m": m, "w_xd": w, "comb": "mean"} for w in (0.5, 1.0)]
        out += [{"m": m, "w_xbt": w} for w in (0.3, 0.5, 1.0)]
        out += [{"m": m, "cov": lam, "keep": keep} for lam, keep in itertools.product((0.05, 0.2, 0.5), (0, 3))]
    out += [{"w_name": w} for w in (0.1, 0.2, 0.3, 0.5, 1.0)]
    out += [{"per": per, "spk": spk, "w_cons": w}
            for per, spk, w in itertools.product((5, 10, 20, 40), (True, False), (0.3, 0.5, 1.0))]
    if name == "round3":  # combinations of the expansion lists (and the name list)
        for m, wxb, wxbt, wn in itertools.product((5, 10, 15), (0, 0.5, 1.0, 1.5), (0, 0.3, 0.5), (0, 0.1)):
            if wxb == wxbt == 0:
                continue
            d: dict = {"m": m}
            d.update({k: v for k, v in (("w_xb", wxb), ("w_xbt", wxbt), ("w_name", wn)) if v})
            if d not in out:
                out.append(d)
        # post hoc (designed after the held-out figures were seen): expansion gated by a plural word in c_c
        out += [{"m": 10, "w_xb": 1.0, "w_xbt": 0.3, "gate": 1}, {"m": 10, "w_xb": 1.0, "gate": 1},
                {"m": 10, "w_xb": 1.5, "gate": 1}, {"m": 5, "w_xbt": 0.5, "gate": 1},
                {"m": 15, "w_xb": 1.0, "gate": 1}]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--conversations", default="0,1")
    ap.add_argument("--grid", default="round3")
    ap.add_argument("--sub", default="word", choices=["word", "cue+word"])
    ap.add_argument("--configs", default=None, help="JSON list of configs (instead of --grid)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    from hybrid.encoder import load_encoder

    enc = CachedEncoder(load_encoder("default"), DEFAULT_CACHE_DIR)
    es = load_locomo(a.file, conversations=[int(c) for c in a.conversations.split(",")])
    parts = [Part(p, enc) for p in es.partitions]
    configs = json.loads(a.configs) if a.configs else grid(a.grid)
    ms = sorted({c.get("m", 0) for c in configs} - {0}) or []
    cons = sorted({(c["per"], c.get("spk", True)) for c in configs if c.get("w_cons")})
    cache = prepare(parts, ms, a.sub, cons)
    rows = []
    for cfg in configs:
        res = evaluate(parts, cfg, cache)
        rows.append({"config": cfg, **res})
        print(f"{json.dumps(cfg):60s} overall {res['overall']:.3f} multi {res.get('multi-hop', 0):.3f} "
              f"adv {res.get('adversarial', 0):.3f} single {res.get('single-hop', 0):.3f} "
              f"temp {res.get('temporal', 0):.3f} mh@50 {res['multi-hop@50']:.3f}", flush=True)
    if a.out:
        from pathlib import Path

        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "w") as f:
            json.dump({"conversations": a.conversations, "sub": a.sub, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
