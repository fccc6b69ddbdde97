"""UNet and DiT: published configurations are expressible (parameter counts, nothing trained),
shapes, zero-initialised outputs, class conditioning, classifier-free guidance, label dropout."""

from __future__ import annotations

import pytest
import torch

# torchcfm's CIFAR-10 network: UNetModelWrapper(dim=(3, 32, 32), num_channels=128,
# channel_mult=[1, 2, 2, 2], num_res_blocks=2, attention_resolutions="16", num_heads=4,
# num_head_channels=64, dropout=0.1) has 35,746,307 parameters (counted with torchcfm 1.0.7).
TORCHCFM_CIFAR10_PARAMETERS = 35_746_307

TINY_UNET = (
    "{kind: unet, channels: 16, channel_mult: [1, 2], num_res_blocks: 1, "
    "attention_resolutions: [4], head_channels: 8, norm_groups: 4, dropout: 0.0, "
    "num_classes: 10, guidance_scale: 3.0, label_dropout: 0.25}"
)
TINY_DIT = (
    "{kind: dit, patch_size: 2, depth: 2, width: 32, heads: 4, num_classes: 10, "
    "guidance_scale: 2.0}"
)


def spec(model: str, data: str = "{kind: digits}", ev: str = "{kind: fid}") -> str:
    return f"version: 1\ndata: {data}\nmodel: {model}\neval: {ev}\n"


def count(module) -> int:
    with torch.device("meta"):  # no memory, no initialisation cost
        return sum(p.numel() for p in module.build_model().parameters())


def test_torchcfm_cifar10_unet_is_expressible(build_module):
    from conftest import REPO

    mod = build_module(REPO / "specs" / "cifar10.yaml")
    assert count(mod) == TORCHCFM_CIFAR10_PARAMETERS


def test_sit_b4_is_expressible(build_module):
    """SiT-B/4 on 32x32x4 latents: 12 blocks of width 768, 12 heads, patch 4; DiT-B is 130M."""
    sit = "{kind: dit, patch_size: 4, depth: 12, width: 768, heads: 12, num_classes: 1000}"
    data = "{kind: tensor, path: latents.npy, shape: [4, 32, 32], labels_path: labels.npy}"
    mod = build_module(spec(sit, data, "{kind: w2, plot: false}"))
    n = count(mod)
    # per block: qkv 3w^2+3w, proj w^2+w, MLP 8w^2+5w, adaLN 6w^2+6w = 18w^2 + 15w
    w = 768
    blocks = 12 * (18 * w * w + 15 * w)
    embed = (4 * 16 * w + w) + (256 * w + w) + (w * w + w) + 1001 * w
    final = (w * 2 * w + 2 * w) + (w * 16 * 4 + 16 * 4)
    assert n == blocks + embed + final
    assert 129e6 < n < 132e6


@pytest.mark.parametrize("model", [TINY_UNET, TINY_DIT])
def test_output_shape_zero_init_and_conditioning(build_module, model):
    mod = build_module(spec(model, "{kind: digits, size: 8}"))
    torch.manual_seed(0)
    net = mod.build_model()
    z, t = torch.randn(5, 1, 8, 8), torch.rand(5)
    y = torch.tensor([0, 1, 2, 3, 10])
    assert net.embed.classes.num_embeddings == 11  # the classes and the null class
    out = net(z, t, y)
    assert out.shape == z.shape and torch.count_nonzero(out) == 0  # zero-initialised output
    for p in net.parameters():  # leave the zero init so the output depends on everything
        p.data.add_(0.05 * torch.randn_like(p))
    a, b = net(z, t, y), net(z, t, torch.tensor([9, 1, 2, 3, 10]))
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1:], b[1:])  # labels matter per sample
    assert torch.equal(net(z, t, None), net(z, t, torch.full((5,), 10)))  # None = null class


def test_classifier_free_guidance_combines_outputs(build_module):
    mod = build_module(spec(TINY_UNET))
    torch.manual_seed(0)
    net = mod.build_model().eval()
    for p in net.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    z, t, y = torch.randn(4, 1, 8, 8), torch.rand(4), torch.tensor([1, 4, 7, 9])
    guided = mod.ClassifierFreeGuidance(net, mod.CONFIG.model.guidance_scale)
    cond, uncond = net(z, t, y), net(z, t, None)
    torch.testing.assert_close(
        guided(z, t, y), uncond + 3.0 * (cond - uncond), rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(guided(z, t, None), uncond)
    plain = mod.ClassifierFreeGuidance(net, 1.0)
    torch.testing.assert_close(plain(z, t, y), cond, rtol=1e-5, atol=1e-5)
    assert mod.labels_for_seeds([3, 10, 27], torch.device("cpu")).tolist() == [3, 0, 7]
    # sample() guides with the spec's scale: the same sampler without guidance (scale 1), given
    # the guided network, draws the same samples
    unguided = build_module(spec(TINY_UNET.replace("guidance_scale: 3.0", "guidance_scale: 1.0")))
    eps = torch.randn(4, 1, 8, 8)
    x, nfe = mod.sample(net, eps, 3, y)
    x_ref, nfe_ref = unguided.sample(guided, eps, 3, y)
    torch.testing.assert_close(x, x_ref, rtol=1e-5, atol=1e-5)
    assert nfe == nfe_ref
    torch.testing.assert_close(mod.sample(net, eps, 3, None)[0], unguided.sample(net, eps, 3)[0])
    assert not torch.allclose(x, unguided.sample(net, eps, 3, y)[0], rtol=1e-3, atol=1e-3)


def test_label_dropout_rate_and_purity(build_module):
    mod = build_module(spec(TINY_UNET))
    rt = mod.Runtime(0, 1, torch.device("cpu"), 0)
    y = torch.arange(20000) % 10
    dropped = mod.drop_labels(rt, 7, y)
    null = dropped == 10
    assert abs(float(null.float().mean()) - 0.25) < 0.02
    assert torch.equal(dropped[~null], y[~null])
    assert torch.equal(dropped, mod.drop_labels(rt, 7, y))  # a function of the step
    assert not torch.equal(dropped, mod.drop_labels(rt, 8, y))
    # the training pairs carry the dropped labels (coupled_batch drops them after the coupling;
    # the independent coupling keeps the data order)
    x, eps, labels = mod.coupled_batch(rt, 7, 64)
    x_data, y_data = mod.batch_for_step(rt, 7, 64)
    assert torch.equal(x, x_data) and eps.shape == x.shape
    assert torch.equal(labels, mod.drop_labels(rt, 7, y_data))
