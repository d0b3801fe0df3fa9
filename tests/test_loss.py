"""CLIP loss against a naive loop (values and gradients); NT-Xent, VAE, supervised."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gemcont.models.loss import ClipLoss, gaussian_kl, nt_xent, supervised_loss, vae_loss


def naive_clip(z_g: torch.Tensor, z_p: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Per-sample loop: -log softmax of the positive, both directions, averaged."""
    n = z_g.shape[0]
    total = z_g.new_zeros(())
    for i in range(n):
        row = torch.stack([scale * torch.dot(z_g[i], z_p[j]) for j in range(n)])
        col = torch.stack([scale * torch.dot(z_g[j], z_p[i]) for j in range(n)])
        total = total - (row[i] - torch.logsumexp(row, 0)) - (col[i] - torch.logsumexp(col, 0))
    return total / (2 * n)


def unit_pairs(n: int, d: int, seed: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(n, d, generator=gen, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(1 / 0.07, dtype=torch.float64, requires_grad=True)
    return a, b, scale


def test_clip_loss__matches_naive_loop_values_and_gradients() -> None:
    a, b, scale = unit_pairs(9, 5, 0)
    fast = ClipLoss()(F.normalize(a, dim=1), F.normalize(b, dim=1), scale)
    grads_fast = torch.autograd.grad(fast, (a, b, scale))
    slow = naive_clip(F.normalize(a, dim=1), F.normalize(b, dim=1), scale)
    grads_slow = torch.autograd.grad(slow, (a, b, scale))
    assert fast.item() == pytest.approx(slow.item(), rel=1e-10)
    for gf, gs in zip(grads_fast, grads_slow, strict=True):
        torch.testing.assert_close(gf, gs, rtol=1e-9, atol=1e-12)


def test_clip_loss__is_symmetric_and_caches_labels() -> None:
    a, b, scale = unit_pairs(6, 4, 1)
    loss = ClipLoss()
    assert loss(a, b, scale).item() == pytest.approx(loss(b, a, scale).item(), rel=1e-12)
    assert loss.labels(6, a.device) is loss.labels(6, a.device)


def test_clip_loss__perfect_alignment_at_high_scale_is_near_zero() -> None:
    z = torch.eye(8, dtype=torch.float64)
    assert ClipLoss()(z, z, torch.tensor(100.0)).item() < 1e-10
    # uniform logits: log n
    assert ClipLoss()(z, z, torch.tensor(0.0)).item() == pytest.approx(math.log(8))


def test_nt_xent__matches_naive_loop() -> None:
    a, b, _ = unit_pairs(5, 3, 2)
    t = 0.2
    z = F.normalize(torch.cat([a, b]), dim=1)
    n2 = z.shape[0]
    expected = 0.0
    for i in range(n2):
        pos = (i + 5) % n2
        others = torch.stack([z[i] @ z[k] / t for k in range(n2) if k != i])
        expected += -(z[i] @ z[pos] / t - torch.logsumexp(others, 0))
    assert nt_xent(a, b, t).item() == pytest.approx((expected / n2).item(), rel=1e-6)


def test_vae_loss__gaussian_nll_plus_kl() -> None:
    x = torch.zeros(2, 1, 2, 2)
    recon = torch.ones(2, 1, 2, 2)
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    assert gaussian_kl(mu, logvar).tolist() == [0.0, 0.0]
    expected = 4 * (0.5 + 0.5 * math.log(2 * math.pi))
    loss = vae_loss(x, recon, torch.tensor(0.0), mu, logvar)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def bce_float64(z: np.ndarray, y: np.ndarray) -> float:
    """-mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), written out in float64."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    p = 1.0 / (1.0 + np.exp(-z))
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def test_supervised_loss__bce_and_mse() -> None:
    pred, y = torch.tensor([[0.0], [2.0]]), torch.tensor([1.0, 0.0])
    assert supervised_loss(pred, y, "mse").item() == pytest.approx((1 + 4) / 2)
    # log 2 for a zero logit, log(1 + e^2) for logit 2 of a control
    by_hand = (math.log(2.0) + math.log(1.0 + math.exp(2.0))) / 2
    assert supervised_loss(pred, y, "bce").item() == pytest.approx(by_hand, rel=1e-6)
    z = torch.linspace(-6.0, 6.0, 25)[:, None]
    y = (torch.arange(25) % 3 == 0).float()
    expected = bce_float64(z.numpy()[:, 0], y.numpy())
    assert supervised_loss(z, y, "bce").item() == pytest.approx(expected, rel=1e-6)
    assert supervised_loss(z.bfloat16(), y, "bce").item() == pytest.approx(
        bce_float64(z.bfloat16().float().numpy()[:, 0], y.numpy()), rel=1e-6
    )
