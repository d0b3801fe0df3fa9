"""Samples/s of a full GEMCONT training step (augmentation + SCARF + forward + backward +
AdamW step + temperature clamp) for one encoder and batch size on the available device.

    python benchmarks/train_throughput.py --encoder cnn2d --shape 1 256 256 \
        --modality spirometry --batch-size 1024 [--compile] [--no-amp]

Warm-up steps first (cuDNN autotuning, compilation), then timed steps; bf16 autocast
and channels_last on CUDA. Several configurations: repeat --case name:encoder:C,H,W:modality
(encoder frozen_vit: a randomly initialised timm --backbone-arch, timm needed).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from gemcont.devices import resolve_device
from gemcont.models.backbone import backbone_builder
from gemcont.train.loop import Batch, make_optimizer, make_scheduler, to_float, train_step
from gemcont.train.methods import build_model, configs_from, make_objective

DEFAULT_CASES = (
    "glyph:small_cnn:1,28,28:glyph",
    "spirometry:cnn2d:1,256,256:spirometry",
    "fundus:cnn2d:3,128,128:fundus",
)


@dataclass
class Case:
    name: str
    encoder: str
    shape: tuple[int, ...]
    modality: str

    @classmethod
    def parse(cls, text: str) -> Case:
        name, encoder, shape, modality = text.split(":")
        return cls(name, encoder, tuple(int(s) for s in shape.split(",")), modality)


def synthetic_batch(case: Case, n: int, n_variants: int, device: torch.device) -> tuple:
    """uint8 items and float genotypes already on the device (as the trainer keeps them)."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randint(0, 256, (n, *case.shape), generator=gen, dtype=torch.uint8)
    g = torch.randint(0, 3, (n, n_variants), generator=gen).float()
    return x.to(device), g.to(device)


def measure(case: Case, args: argparse.Namespace, device: torch.device) -> dict:
    """Mean samples/s over the timed steps after warm-up."""
    torch.manual_seed(0)
    section = {
        "encoder": case.encoder,
        "batch_size": args.batch_size,
        "amp": not args.no_amp,
        "compile": args.compile,
    }
    mcfg, tcfg = configs_from(section, case.modality, "bce")
    betas = np.random.default_rng(0).normal(0, 0.05, args.variants)
    stats = ([0.5] * case.shape[0], [0.25] * case.shape[0])
    options = {"img_size": args.backbone_img_size} if args.backbone_img_size else {}
    backbone = (
        backbone_builder(args.backbone_arch, options)() if case.encoder == "frozen_vit" else None
    )
    if backbone is not None:
        mcfg = replace(mcfg, backbone_features=backbone.num_features)
    model = build_model("gemcont", mcfg, case.shape, betas, stats, backbone).to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if args.compile:
        model.compile()
    optimizer = make_optimizer(model, tcfg)
    scheduler = make_scheduler(optimizer, tcfg, steps_per_epoch=100)
    objective = make_objective("gemcont", mcfg)
    x_u8, g = synthetic_batch(case, args.batch_size, args.variants, device)
    gen = torch.Generator(device=device).manual_seed(0)

    def step() -> torch.Tensor:
        batch = Batch(to_float(x_u8, channels_last), g, None)
        return train_step(model, objective, batch, optimizer, scheduler, gen, tcfg.amp)

    for _ in range(args.warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync(device)
    seconds = time.perf_counter() - start
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "case": case.name,
        "encoder": case.encoder,
        "shape": "x".join(map(str, case.shape)),
        "batch": args.batch_size,
        "params_M": n_params / 1e6,
        "ms_per_step": 1000 * seconds / args.steps,
        "samples_per_s": args.batch_size * args.steps / seconds,
        "loss": float(loss),
    }


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="name:encoder:C,H,W:modality")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--variants", type=int, default=551)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--backbone-arch", default="vit_base_patch16_224", help="frozen_vit")
    parser.add_argument("--backbone-img-size", type=int, default=None, help="frozen_vit")
    parser.add_argument("--no-amp", action="store_true")
    args = parser.parse_args()
    device = torch.device(resolve_device(args.device, "--device"))
    torch.backends.cudnn.benchmark = True
    print(
        f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}"
        f" ({torch.get_num_threads()} threads); amp={not args.no_amp} compile={args.compile}"
    )
    rows = [measure(Case.parse(c), args, device) for c in args.case or DEFAULT_CASES]
    header = list(rows[0])
    print("\t".join(header))
    for row in rows:
        print("\t".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))


if __name__ == "__main__":
    main()
