#!/usr/bin/env bash
# The GPU measurements of the training, GWAS and rotation-simulation issues, in one run
# (about 8 minutes on an H100/H200). Needs torch (+ torchvision, timm), numpy, pandas,
# scipy, pyyaml, pillow; not bed-reader, Snakemake or scikit-learn.
#   bash benchmarks/gpu_suite.sh [out_dir] [sections...]
# sections: gwas vit resnet fig2 (default: gwas vit fig2; resnet was measured before,
# see benchmarks/measured/). Every section runs under its own time limit and writes
# its table as it goes, so a cut-off run still reports what finished.
set -uo pipefail
out=${1:-results/benchmarks/gpu}
shift || true
sections=${*:-gwas vit fig2}
mkdir -p "$out"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$(pwd) PYTHONUNBUFFERED=1
# pure-Python deps copied beside the repo when the machine lacks them
for mod in tqdm threadpoolctl; do
  python -c "import $mod" 2>/dev/null || { export PYTHONPATH=$PYTHONPATH:$(pwd)/.gpu_deps; break; }
done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python - <<'PY' | tee -a "$out/gpu.txt"
import importlib, sys
print("python", sys.version.split()[0])
for m in ["torch", "torchvision", "timm", "numpy", "pandas", "scipy", "yaml", "PIL", "sklearn"]:
    try:
        print(m, getattr(importlib.import_module(m), "__version__", "?"))
    except Exception as err:  # noqa: BLE001
        print(m, "MISSING", type(err).__name__)
PY

for section in $sections; do
  case $section in
  gwas)
    echo "== built-in GWAS engine on the GPU (N = 100,000, k = 256) =="
    python -m pytest -q -p no:cacheprovider --noconftest tests/test_gwas_gpu.py 2>&1 \
      | tail -15 | tee "$out/gwas_cuda_test.txt"
    # a 5 GB synthetic .bed (M = 200,000) under $TMPDIR; CUDA checked against the CPU
    # engine on 4,096 variants, then two timed scans
    timeout 170 python benchmarks/gwas_builtin.py --gpu-target --variants 200000 --threads 16 \
      --block-size 8192 --workdir "${TMPDIR:-/tmp}/gwas_bench" 2>&1 | tee "$out/gwas_gpu.txt"
    rm -rf "${TMPDIR:-/tmp}/gwas_bench"
    ;;
  vit)
    echo "== frozen ViT-B/14 fundus branch (random weights; same FLOPs as a checkpoint) =="
    timeout 80 python benchmarks/train_throughput.py --batch-size 1024 --steps 10 --warmup 3 \
      --case fundus_vitb14:frozen_vit:3,224,224:fundus \
      --backbone-arch vit_base_patch14_dinov2 --backbone-img-size 224 | tee "$out/train_vit.tsv"
    ;;
  resnet)
    echo "== training step throughput (paper batch 1024, bf16, channels_last) =="
    python benchmarks/train_throughput.py --batch-size 1024 --steps 20 --warmup 5 --compile \
      --case spirometry_resnet18:resnet18:1,256,256:spirometry | tee "$out/train_compiled.tsv"
    ;;
  fig2)
    echo "== rotation simulation, paper-scale default point (GEMCONT, SimCLR) =="
    timeout 290 bash scripts/fig2_gpu.sh "$out" 40
    ;;
  *) echo "unknown section $section" >&2 ;;
  esac
done
