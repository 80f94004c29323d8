#!/usr/bin/env bash
# The GPU check, in one command, on a bare offline CUDA machine: python3 with
# torch and transformers, the working tree, and the carried wheels in
# .gpu-bundle (`make gpu-bundle` on a machine that reaches PyPI; no .venv, no
# embedded model). About 6-8 minutes on one H100/H200:
#   1. the family tests on CUDA (tests/test_families.py -k cuda): every family
#      the model configs name, tiny random-weight models, float32 exact against
#      model.generate and a plain forward pass, bfloat16 agreement reported;
#   2. benchmarks/throughput.py --random real on Qwen2.5-7B's and Llama-3.1-8B's
#      architectures (random weights, bfloat16): score mode against the study's
#      pipeline reading the same prompts, 32 and 128 documents, both routes.
# Writes everything under $OUT (default gpu-check/).
#   bash benchmarks/gpu_check.sh     # PY=python3 BUNDLE=.gpu-bundle SIZE=real (tiny: a quick dry run on a CPU)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-gpu-check}
BUNDLE=${BUNDLE:-.gpu-bundle}
SIZE=${SIZE:-real}
mkdir -p "$OUT"
{ git rev-parse HEAD 2>/dev/null || cat COMMIT 2>/dev/null || echo "commit unknown"; date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  "$PY" -c 'import sys, torch, transformers; print("python", sys.version.split()[0], "torch", torch.__version__, "transformers (machine)", transformers.__version__)'
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
SITE=$(mktemp -d)
"$PY" benchmarks/gpu_bundle.py install "$BUNDLE" "$SITE" || exit 1
export PYTHONPATH="$SITE:$PWD/src" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
step() {  # name, seconds allowed, command...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  echo "   rc=$? ($(tail -n 1 "$OUT/$name.txt"))"
}
step families 120 "$PY" -m pytest -q -p no:cacheprovider -s tests/test_families.py -k cuda
for model in qwen2.5-7b llama3.1-8b; do
  step "bench-$model" 230 "$PY" benchmarks/throughput.py --random "$SIZE" --model "$model" --docs 32,128 --no-llamacpp
done
grep -h "^bf16 agreement\|passed\|failed" "$OUT/families.txt"
grep -h "^random weights\|^==\|^(\|^c/a1" "$OUT"/bench-*.txt
