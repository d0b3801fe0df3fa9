#!/usr/bin/env bash
# The paper-scale default point of the rotation simulation (Fig. 2: 100k training and
# 100k test people, h = 0.3, alpha_max = 15 degrees) for GEMCONT and SimCLR, seed 0, on
# one GPU. Needs torch, numpy, scipy, pandas, pillow, pyyaml, tqdm and threadpoolctl
# only (no Snakemake, bed-reader, jsonschema or scikit-learn).
#   bash scripts/fig2_gpu.sh [out_dir] [epochs]
# The default, 100 epochs instead of the paper's 150, keeps a run within a short GPU
# session (timings: benchmarks/README.md, "Rotation simulation"). The metrics TSV is
# rewritten after each method and the per-epoch progress is printed as it goes, so a
# cut-off run keeps what finished.
set -euo pipefail
out=${1:-${OUT:-results/rotation/gpu}}
epochs=${2:-100}
mkdir -p "$out"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$(pwd) PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$out/gpu.txt" || true
python3 -m gemcont.rotation --config config/paper_fig2.yaml --point default \
  --methods gemcont simclr --seeds 0 --epochs "$epochs" \
  --out "$out/fig2_gpu_default.tsv" --workdir "${TMPDIR:-/tmp}/gemcont_rotation" \
  2>&1 | tee "$out/fig2_gpu_default.log"
