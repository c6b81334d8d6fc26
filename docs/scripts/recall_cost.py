"""Cost of the default recall against dense-only search, and of concept extraction at ingest (real MiniLM).

- Query latency at ``--memories`` (20K) memories: ``Memory.search`` with its defaults against
  ``recall=RecallConfig.dense()``, both from text (encoder included), median over ``--queries``
  questions after one warm-up each; and the part after encoding (total minus the time to encode the
  query batch each one encodes: 3 texts for the default, 1 for dense).
- Ingest throughput: ``Memory.add`` of the same ``--ingest`` texts into fresh stores with and without
  concept synapses (``IngestConfig(concepts=...)``), encoder included (no embedding cache).

Memories: LoCoMo development turns and HotpotQA passages, repeated with a numbered suffix to reach
the size. Run: ``python docs/scripts/recall_cost.py --json reports/recall-cost.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from hybrid import IngestConfig, Memory, RecallConfig
from hybrid.encoder import load_encoder
from hybrid.eval.beir import load_beir
from hybrid.eval.cache import DEFAULT_CACHE_DIR, CachedEncoder
from hybrid.eval.locomo import load_locomo
from hybrid.recall.cues import hub_free_cues


def corpus(locomo: str, hotpotqa: str) -> tuple[list[str], list[str]]:
    loc, hp = load_locomo(locomo), load_beir(hotpotqa)
    texts = [d.text for p in loc.partitions for d in p.docs] + [d.text for d in hp.partitions[0].docs]
    questions = [q.text for p in loc.partitions for q in p.queries] + [q.text for q in hp.partitions[0].queries]
    return texts, questions


def median_ms(fn, items) -> float:
    times = []
    for x in items:
        fn(x)  # warm-up of this exact call (kernels, caches)
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--locomo", default="../shared/data/locomo/locomo_dev.json")
    ap.add_argument("--hotpotqa", default="../shared/data/hotpotqa")
    ap.add_argument("--memories", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--ingest", type=int, default=1500)
    ap.add_argument("--json", default="reports/recall-cost.json")
    args = ap.parse_args()
    texts, questions = corpus(args.locomo, args.hotpotqa)
    many = [t if i < len(texts) else f"{t} ({i // len(texts)})" for i, t in
            enumerate(texts[j % len(texts)] for j in range(args.memories))]
    enc = load_encoder("default")
    out: dict = {"memories": args.memories, "queries": args.queries, "ingest_texts": args.ingest}
    with tempfile.TemporaryDirectory() as tmp:
        # ingest throughput: same texts, fresh stores, the real encoder (no cache)
        sample = texts[: args.ingest]
        for concepts in (False, True):
            with Memory.open(Path(tmp) / f"ingest-{concepts}", encoder=enc, device="cpu",
                             ingest=IngestConfig(concepts=concepts)) as mem:
                t0 = time.perf_counter()
                for s in range(0, len(sample), 250):
                    mem.add(sample[s:s + 250], dedupe=False)
                out[f"ingest_per_s_concepts_{concepts}"] = len(sample) / (time.perf_counter() - t0)
        out["ingest_ratio"] = out["ingest_per_s_concepts_True"] / out["ingest_per_s_concepts_False"]
        # query latency at the full size (store built through the embedding cache)
        cached = CachedEncoder(enc, DEFAULT_CACHE_DIR, progress_min=None)
        with Memory.open(Path(tmp) / "big", encoder=cached, device="cpu") as mem:
            mem.add(many, dedupe=False)
            mem.encoder = enc  # queries through the plain encoder, as a user's would be
            qs = questions[: args.queries]
            dense = RecallConfig.dense()
            out["default_ms"] = median_ms(lambda q: mem.search(q, 10), qs)
            out["dense_ms"] = median_ms(lambda q: mem.search(q, 10, recall=dense), qs)
            df, n = mem.recall.lexical.word_df(None)
            out["encode3_ms"] = median_ms(lambda q: enc.encode([q, *hub_free_cues(q, df, n=n, hub_fraction=0.05)]), qs)
            out["encode1_ms"] = median_ms(lambda q: enc.encode([q]), qs)
    out["ratio_from_text"] = out["default_ms"] / out["dense_ms"]
    out["ratio_after_encoding"] = (out["default_ms"] - out["encode3_ms"]) / max(out["dense_ms"] - out["encode1_ms"], 1e-9)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
