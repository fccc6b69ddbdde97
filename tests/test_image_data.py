"""Image data kinds on tiny files in each real format: CIFAR-10 pickle batches, CelebA JPEGs, an
image folder of PNGs, .npy/.pt arrays, the bundled digits; the epoch stream, DDP sharding, flips
and the messages for missing or malformed roots."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

BASE = """version: 1
model: {kind: unet, channels: 8, channel_mult: [1], num_res_blocks: 1, attention_resolutions: [],
        head_channels: 8, norm_groups: 4}
eval: {kind: w2, plot: false, n_samples: 8}
"""


def module_for(build_module, tmp_path: Path, data: str):
    """A fresh generated module per data spec (its dataset cache starts empty; modules of equal
    text are shared)."""
    mod = build_module(BASE + f"data: {data}\n")
    mod._DATASET = None
    return mod


def runtime(mod, rank: int = 0, world: int = 1, seed: int = 0):
    return mod.Runtime(rank, world, torch.device("cpu"), seed)


def write_cifar_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    """The python-pickle batch format: a dict with bytes keys, data (N, 3072) uint8 rows."""
    batch = {
        b"batch_label": b"training batch",
        b"labels": labels,
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"{i}.png".encode() for i in range(len(images))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def test_cifar10_pickle_batches(build_module, tmp_path: Path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8) for _ in range(5)]
    for i, images in enumerate(parts, 1):
        write_cifar_batch(folder / f"data_batch_{i}", images, [i, i + 1, 9])
    mod = module_for(build_module, tmp_path, f"{{kind: cifar10, root: '{tmp_path}'}}")
    images, labels = mod.dataset()
    assert images.dtype == torch.uint8 and images.shape == (15, 3, 32, 32)
    assert torch.equal(images, torch.from_numpy(np.concatenate(parts)))
    assert labels.tolist() == [v for i in range(1, 6) for v in (i, i + 1, 9)]
    x, y = mod.batch_for_step(runtime(mod), 0, 4)
    assert x.shape == (4, 3, 32, 32) and x.min() >= -1 and x.max() <= 1 and y.dtype == torch.long
    assert x.device.type == y.device.type == "cpu"  # the training loop moves them to the device


def test_cifar10_missing_and_malicious_files_are_refused(build_module, tmp_path: Path):
    mod = module_for(build_module, tmp_path, f"{{kind: cifar10, root: '{tmp_path}'}}")
    with pytest.raises(SystemExit, match="CIFAR-10 not found: .*data_batch_1 is missing.*cifar"):
        mod.dataset()

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": []}, f)
    mod._DATASET = None
    with pytest.raises(SystemExit, match="not a CIFAR-10 python batch .*not allowed"):
        mod.dataset()


def test_celeba_centre_crop_and_resize(build_module, tmp_path: Path):
    from PIL import Image

    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        array = np.zeros((218, 178, 3), dtype=np.uint8)
        array[:] = (255, 255, 255)  # outside the centred 140x140 square: white
        array[39:179, 19:159] = colour
        Image.fromarray(array).save(folder / f"{i + 1:06d}.jpg", quality=95)
    mod = module_for(build_module, tmp_path, f"{{kind: celeba, root: '{tmp_path}', size: 16}}")
    images, labels = mod.dataset()
    assert labels is None and images.shape == (3, 3, 16, 16)
    means = images.float().mean(dim=(2, 3))
    expected = torch.tensor([[200, 30, 30], [30, 200, 30], [30, 30, 200]], dtype=torch.float32)
    assert (means - expected).abs().max() < 6  # JPEG rounding only: no white border survived
    empty = tmp_path / "empty"
    empty.mkdir()
    mod = module_for(build_module, tmp_path, f"{{kind: celeba, root: '{empty}'}}")
    with pytest.raises(SystemExit, match="CelebA not found: no .jpg files in .*img_align_celeba"):
        mod.dataset()


def test_imagefolder_classes_from_subdirectories(build_module, tmp_path: Path):
    from PIL import Image

    rng = np.random.default_rng(1)
    arrays = {}
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for j in range(2):
            array = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)  # wide: cropped to 8x8
            Image.fromarray(array).save(tmp_path / cls / f"{j}.png")
            arrays[(cls, j)] = array
    spec = f"{{kind: imagefolder, root: '{tmp_path}', size: 8, labels: true}}"
    mod = module_for(build_module, tmp_path, spec)
    images, labels = mod.dataset()
    assert labels.tolist() == [0, 0, 1, 1]  # cat, cat, dog, dog in sorted order
    expected = [arrays[(c, j)][:, 2:10] for c in ("cat", "dog") for j in range(2)]
    assert torch.equal(images, torch.from_numpy(np.stack(expected)).permute(0, 3, 1, 2))
    Image.fromarray(arrays[("cat", 0)]).save(tmp_path / "loose.png")
    mod = module_for(build_module, tmp_path, spec)
    with pytest.raises(SystemExit, match="outside class subdirectories"):
        mod.dataset()


def test_tensor_npy_and_pt(build_module, tmp_path: Path):
    latents = np.random.default_rng(2).standard_normal((6, 4, 8, 8)).astype(np.float32)
    np.save(tmp_path / "latents.npy", latents)
    torch.save(torch.arange(6) % 3, tmp_path / "labels.pt")
    spec = (
        f"{{kind: tensor, path: '{tmp_path / 'latents.npy'}', shape: [4, 8, 8], scale: 0.5, "
        f"labels_path: '{tmp_path / 'labels.pt'}'}}"
    )
    mod = module_for(build_module, tmp_path, spec)
    data, labels = mod.dataset()
    torch.testing.assert_close(data, 0.5 * torch.from_numpy(latents), rtol=0, atol=0)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]
    wrong = f"{{kind: tensor, path: '{tmp_path / 'latents.npy'}', shape: [4, 4, 4]}}"
    mod = module_for(build_module, tmp_path, wrong)
    # names the file's shape and the expected one
    with pytest.raises(SystemExit, match=r"data of shape \(6, 4, 8, 8\), not \(N, \*\(4, 4, 4\)\)"):
        mod.dataset()
    missing = f"{{kind: tensor, path: '{tmp_path / 'nope.npy'}', shape: [4, 8, 8]}}"
    with pytest.raises(SystemExit, match="data.path .*nope.npy not found"):
        module_for(build_module, tmp_path, missing).dataset()
    # training says so too, in the main process (before the data worker starts), not a traceback
    mod = module_for(build_module, tmp_path, missing)
    with pytest.raises(SystemExit, match="data.path .*nope.npy not found"):
        mod.main(["--device", "cpu", "--out", str(tmp_path / "run"), "--max-steps", "1"])


def test_digits_bundled_and_upsampled(build_module, tmp_path: Path):
    mod = module_for(build_module, tmp_path, "{kind: digits, size: 16}")
    images, labels = mod.dataset()
    assert images.shape == (1797, 1, 16, 16) and images.dtype == torch.uint8
    assert sorted(set(labels.tolist())) == list(range(10))
    assert images.max() == 255 and images.min() == 0


def test_epochs_cover_the_dataset_and_ranks_split_the_global_batch(build_module, tmp_path: Path):
    np.save(tmp_path / "d.npy", np.arange(10 * 4, dtype=np.float32).reshape(10, 1, 2, 2))
    mod = module_for(
        build_module, tmp_path, f"{{kind: tensor, path: '{tmp_path}/d.npy', shape: [1, 2, 2]}}"
    )
    one = runtime(mod)
    stream = torch.cat([mod.data_indices(one, step, 4) for step in range(5)])  # 20 = 2 epochs
    assert sorted(stream[:10].tolist()) == list(range(10))
    assert sorted(stream[10:].tolist()) == list(range(10))
    assert not torch.equal(stream[:10], stream[10:])  # a fresh permutation each epoch
    for step in range(5):
        ranks = [mod.data_indices(runtime(mod, r, 2), step, 2) for r in range(2)]
        assert torch.equal(torch.cat(ranks), mod.data_indices(one, step, 4))
    x, _ = mod.batch_for_step(one, 3, 4)  # a pure function of the step
    assert torch.equal(x, mod.batch_for_step(one, 3, 4)[0])
    other_seed = mod.data_indices(runtime(mod, seed=1), 0, 4)
    assert not torch.equal(other_seed, mod.data_indices(one, 0, 4))


def test_hflip_mirrors_about_half_the_images(build_module, tmp_path: Path):
    arr = np.random.default_rng(3).standard_normal((64, 1, 3, 3)).astype(np.float32)
    np.save(tmp_path / "d.npy", arr)
    spec = f"{{kind: tensor, path: '{tmp_path}/d.npy', shape: [1, 3, 3], hflip: true}}"
    mod = module_for(build_module, tmp_path, spec)
    rt = runtime(mod)
    idx = mod.data_indices(rt, 0, 64)
    x, _ = mod.batch_for_step(rt, 0, 64)
    source = torch.from_numpy(arr)[idx]
    same = (x == source).flatten(1).all(1)
    mirrored = (x == source.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 16 < int(mirrored.sum()) < 48
