#!/usr/bin/env bash
# The GPU checks in one command (under 5 minutes on one GPU): the tests marked `gpu` and
# bench_train.py --device cuda (samples/s of the harness against a plain torch loop on the
# same GPU, AMP on and off, and the streamed path). CI stays CPU-only: there the marked
# tests skip themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "gpu_check: no CUDA device visible to torch")'
echo "== tests marked gpu"
"$PYTHON" -m pytest -q -m gpu -p no:cacheprovider tests/test_train_gpu.py
echo "== bench_train.py --device cuda"
"$PYTHON" benchmarks/bench_train.py --device cuda --epochs 10 --repeats 2
