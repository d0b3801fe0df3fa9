#!/usr/bin/env bash
# The GPU measurements of the training and GWAS issues, in one run (about 5 minutes on
# an H100). Needs torch (+ torchvision, timm) and numpy/pandas/scipy/bed-reader.
#   bash benchmarks/gpu_suite.sh [out_dir]
set -uo pipefail
out=${1:-benchmarks/out/gpu}
mkdir -p "$out"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$(pwd)
# pure-Python deps (and bed-reader) copied beside the repo when the machine lacks them
for mod in tqdm threadpoolctl bed_reader; do
  python -c "import $mod" 2>/dev/null || { export PYTHONPATH=$PYTHONPATH:$(pwd)/.gpu_deps; break; }
done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -c "import torch; print('torch', torch.__version__)" | tee -a "$out/gpu.txt"

echo "== training step throughput (paper batch 1024, bf16, channels_last) =="
python benchmarks/train_throughput.py --batch-size 1024 --steps 20 --warmup 5 \
  --case spirometry_resnet18:resnet18:1,256,256:spirometry \
  --case spirometry_cnn2d:cnn2d:1,256,256:spirometry | tee "$out/train_eager.tsv"
python benchmarks/train_throughput.py --batch-size 1024 --steps 20 --warmup 5 --compile \
  --case spirometry_resnet18:resnet18:1,256,256:spirometry | tee "$out/train_compiled.tsv"
python benchmarks/train_throughput.py --batch-size 256 --steps 10 --warmup 3 \
  --case fundus_vitb14:frozen_vit:3,224,224:fundus \
  --backbone-arch vit_base_patch14_dinov2 --backbone-img-size 224 | tee "$out/train_vit.tsv"

echo "== built-in GWAS engine on the GPU =="
python benchmarks/gwas_builtin.py --gpu-target --variants 20000 --threads 16 \
  --block-size 4096 --workdir "${TMPDIR:-/tmp}/gwas_bench" | tee "$out/gwas_gpu.tsv"
python -m pytest -q -p no:cacheprovider --noconftest \
  tests/test_gwas_builtin.py::test_run_builtin_gwas__cuda_matches_cpu | tail -3 | tee "$out/gwas_cuda_test.txt"
