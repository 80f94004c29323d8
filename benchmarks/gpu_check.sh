#!/usr/bin/env bash
# The GPU path, checked in one go on a lent CUDA machine (one H100/H200: about
# 6 minutes): the backend's CUDA tests (tests/test_hf_backend.py -k cuda:
# generation with and without drafts and scoring against the plain model, both
# embedded models) and benchmarks/throughput.py at 8 and 32 documents in
# bfloat16 (the study's pipeline, the harness's generate and score modes;
# llama.cpp sides skipped: they are CPU measurements). Needs the project
# installed with the embedded models converted (make setup; the machine may
# have no network). Writes everything under $OUT (default gpu-check/).
#   bash benchmarks/gpu_check.sh            # PY=/path/to/python to choose the interpreter
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
{ git rev-parse HEAD 2>/dev/null || echo "commit unknown"; date -u; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; } \
  > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
step() {  # name, seconds allowed, command...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  echo "   rc=$? ($(tail -n 1 "$OUT/$name.txt"))"
}
step tests-cuda 150 "$PY" -m pytest -q -x tests/test_hf_backend.py -k cuda
step bench-8 120 "$PY" benchmarks/throughput.py --docs 8 --no-llamacpp
step bench-32 180 "$PY" benchmarks/throughput.py --docs 32 --no-llamacpp
grep -h "^(\|^b/a\|^agreement\|^bound\|^summary" "$OUT"/bench-*.txt
