"""Encoders and the GEMCONT model: beta init, SCARF, temperature, frozen backbone."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gemcont.errors import ConfigError
from gemcont.models.backbone import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    backbone_builder,
    feature_width,
    load_backbone,
)
from gemcont.models.baselines import VAE, FrozenFeatures
from gemcont.models.gemcont import Gemcont
from gemcont.models.genetic import GeneticEncoder, scarf
from gemcont.models.phenotype import build_phenotype_encoder

from .tiny_backbone import TinyViT

TINY_BACKBONE = Path(__file__).with_name("tiny_backbone.py")


def test_genetic_encoder__columns_equal_betas_up_to_noise() -> None:
    torch.manual_seed(0)
    betas = np.array([0.2, -0.1, 0.05, 0.3])
    weight = GeneticEncoder(betas, dim=64, init_noise=0.01).net.weight.detach().numpy()
    assert weight.shape == (64, 4)
    rms = np.sqrt(np.mean(betas**2))
    np.testing.assert_allclose(weight.mean(axis=0), betas, atol=0.01 * rms)
    assert 0 < weight.std(axis=0).max() < 0.02 * rms  # noise present, small
    exact = GeneticEncoder(betas, dim=8, init_noise=0.0).net.weight.detach().numpy()
    np.testing.assert_array_equal(exact, np.tile(betas.astype(np.float32), (8, 1)))


def test_genetic_encoder__mlp_option() -> None:
    enc = GeneticEncoder(np.ones(5), dim=16, mlp=True)
    assert any(isinstance(m, nn.BatchNorm1d) for m in enc.modules())
    assert enc(torch.randn(4, 5)).shape == (4, 16)


def test_scarf__corrupts_about_p_with_same_column_values() -> None:
    gen = torch.Generator().manual_seed(0)
    n, s = 500, 40
    # every column holds values unique to that column, every row different
    g = torch.arange(n * s, dtype=torch.float32).view(n, s)
    out = scarf(g, 0.1, gen)
    changed = out != g
    assert 0.09 < changed.float().mean().item() < 0.11
    column_of = (out.long() % s).numpy()
    assert (column_of == np.arange(s)).all()  # values come from the same variant
    assert torch.equal(scarf(g, 0.0, gen), g)


def test_gemcont__temperature_init_and_clamp() -> None:
    model = Gemcont(GeneticEncoder(np.ones(3), 8), nn.Linear(5, 16), dim=16, latent=8)
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert model.temperature() == pytest.approx(0.07)
    z_g, z_p, scale = model(torch.randn(4, 3), torch.randn(4, 5))
    torch.testing.assert_close(z_g.norm(dim=1), torch.ones(4))
    torch.testing.assert_close(z_p.norm(dim=1), torch.ones(4))
    assert scale.item() == pytest.approx(1 / 0.07)
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    model.clamp_temperature()
    assert model.logit_scale.item() == pytest.approx(math.log(100))


ENCODER_SHAPES = [
    ("small_cnn", (1, 28, 28)),
    ("cnn2d", (1, 128, 128)),
    ("cnn2d", (3, 64, 64)),
    ("cnn1d", (2, 100)),
]


@pytest.mark.parametrize(("name", "shape"), ENCODER_SHAPES)
def test_build_phenotype_encoder__output_dim(name: str, shape: tuple[int, ...]) -> None:
    enc = build_phenotype_encoder(name, shape, dim=32, width=32)
    assert enc(torch.rand(3, *shape)).shape == (3, 32)


def test_build_phenotype_encoder__unknown_and_missing_torchvision() -> None:
    with pytest.raises(ConfigError, match="unknown encoder"):
        build_phenotype_encoder("vgg", (1, 28, 28), dim=256, width=32)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="pip install torchvision"):
            build_phenotype_encoder("resnet18", (3, 64, 64), dim=256, width=32)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 50, 40), (2, 100)])
def test_vae_decoder__reconstructs_input_shape(shape: tuple[int, ...]) -> None:
    enc = build_phenotype_encoder("cnn1d" if len(shape) == 2 else "cnn2d", shape, dim=16, width=32)
    recon, mu, _ = VAE(enc, shape, dim=16).eval()(torch.rand(2, *shape))
    assert recon.shape == (2, *shape) and mu.shape == (2, 16)


def test_frozen_backbone__checkpoint_round_trip_weights_only(tmp_path) -> None:
    torch.manual_seed(0)
    source = TinyViT().eval()
    path = tmp_path / "vit.pth"
    torch.save({"model": source.state_dict(), "epoch": 3}, path)
    backbone = load_backbone(path, TinyViT)
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(backbone.forward_features(x), source.forward_features(x))
    enc = build_phenotype_encoder("frozen_vit", (3, 32, 32), 16, 32, backbone, 24)
    before = {k: v.clone() for k, v in enc.backbone.state_dict().items()}
    enc.train()
    assert not enc.backbone.training
    opt = torch.optim.SGD([p for p in enc.parameters() if p.requires_grad], lr=0.1)
    enc(x).pow(2).sum().backward()
    opt.step()
    for k, v in enc.backbone.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert enc(x).shape == (2, 16)


def test_load_backbone__missing_weights_is_an_error(tmp_path) -> None:
    path = tmp_path / "partial.pth"
    torch.save({"patch.weight": torch.zeros(24, 3, 8, 8)}, path)
    with pytest.raises(ConfigError, match="backbone.arch matches"):
        load_backbone(path, TinyViT)


def test_load_backbone__wrong_shapes_name_file_and_options(tmp_path) -> None:
    path = tmp_path / "wide.pth"
    torch.save(TinyViT(width=32).state_dict(), path)
    with pytest.raises(ConfigError, match=r"wide\.pth does not fit .*options") as err:
        load_backbone(path, TinyViT)
    assert err.value.key == "train.backbone.path"
    with pytest.raises(ConfigError, match="does not exist"):
        load_backbone(tmp_path / "absent.pth", TinyViT)


def test_backbone_builder__file_function_with_options(tmp_path) -> None:
    build = backbone_builder(f"{TINY_BACKBONE}:tiny_vit", {"width": 16})
    assert build().num_features == 16
    with pytest.raises(ConfigError, match="no function 'vit_l'"):
        backbone_builder(f"{TINY_BACKBONE}:vit_l")
    with pytest.raises(ConfigError, match="does not exist"):
        backbone_builder(f"{tmp_path}/models_vit.py:vit_large_patch16")
    # a model repository's file imports its sibling modules
    (tmp_path / "pos_embed.py").write_text("WIDTH = 8\n")
    (tmp_path / "models_vit.py").write_text(
        "from torch import nn\nfrom pos_embed import WIDTH\ndef vit(): return nn.Linear(3, WIDTH)\n"
    )
    assert backbone_builder(f"{tmp_path}/models_vit.py:vit")().out_features == 8
    assert str(tmp_path) not in sys.path
    (tmp_path / "broken.py").write_text("import util.absent\n")
    with pytest.raises(ConfigError, match="importing .*broken.py failed"):
        backbone_builder(f"{tmp_path}/broken.py:vit")
    path = tmp_path / "w.pth"
    torch.save(TinyViT().state_dict(), path)
    bad = backbone_builder(f"{TINY_BACKBONE}:tiny_vit", {"img_size": 224})
    with pytest.raises(ConfigError, match="rejected its options") as err:
        load_backbone(path, bad)
    assert err.value.key == "train.backbone.options"


def test_frozen_features__mean_of_patch_tokens_after_normalisation() -> None:
    torch.manual_seed(0)
    backbone = TinyViT().eval()
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    model = FrozenFeatures(backbone, mean, std)
    assert not any(p.requires_grad for p in model.parameters())
    x = torch.rand(3, 3, 32, 32)

    def normalise(x: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
        return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)

    with torch.no_grad():
        tokens = backbone.forward_features(normalise(x, mean, std))
        expected = tokens[:, 1:].mean(dim=1)  # the class token is left out
        torch.testing.assert_close(model.encode(x), expected)
        grey = torch.rand(2, 1, 32, 32)
        torch.testing.assert_close(model.encode(grey), model.encode(grey.expand(-1, 3, -1, -1)))
    assert feature_width(backbone, (3, 32, 32)) == 24
    cnn = nn.Conv2d(3, 7, 3)  # a feature map: its pixels are the tokens
    assert feature_width(cnn, (3, 16, 16)) == 7
    with torch.no_grad():
        torch.testing.assert_close(FrozenFeatures(cnn).encode(x), cnn(normalise(x)).mean((2, 3)))
    with pytest.raises(ConfigError, match=r"stored items \(1 x 16 x 16\).*fundus_image_size"):
        feature_width(backbone, (1, 16, 16))  # a 3-channel patch embedding
