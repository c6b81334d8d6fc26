#!/usr/bin/env bash
# Latency bench on a CUDA machine: hhmem's retriever on the GPU at 20K/100K/1M, peers on the CPU
# (faiss-cpu / hnswlib), then the GPU tests. Writes reports/bench-latency-gpu/latency.{json,md,png}.
# Usage: scripts/gpu_bench.sh [extra `hhmem bench latency` options]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
"$PY" - <<'PYEOF'
import torch, sys
if not torch.cuda.is_available():
    sys.exit("CUDA not available: this script is for the GPU machine")
print("GPU:", torch.cuda.get_device_name(0), "torch", torch.__version__)
PYEOF
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
OUT="${OUT:-reports/bench-latency-gpu}"
# Exact methods only on the GPU (the HNSW stage 1 is a CPU index); real MiniLM set is skipped when
# the model package is missing (set MINILM=0 to force-skip).
timeout 540 "$PY" -m hybrid.cli bench latency --device cuda --threads 4 \
  --sizes 20000,100000,1000000 --ann-sizes "" --minilm "${MINILM:-20000}" \
  --queries 200 --batches 5 --rounds 3 --hop-size 0 --ingest-texts 0 --out "$OUT" "$@"
"$PY" -m pytest -q -m gpu tests/hybrid/test_gpu.py
cat "$OUT/latency.md"
