"""SRCNN trainer and sampler: MSE on (bicubic-downsampled, original) crops of real photos, PSNR vs bicubic.

Generated images have no ground truth, so SRCNN learns on real images and is then applied to a generator's
output (the DCGAN+SRCNN Pipeline). Low-resolution inputs are quantised to uint8 levels, as every image the
model will see (a generated PNG, a downscaled photo) is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from generation.nets.srcnn import SRCNN, bicubic, psnr
from generation.training.images import from_uint8, image_grid, to_uint8
from generation.training.options import TrainOptions
from generation.training.sampling import Sampler, eval_mode
from generation.training.trainers.base import BaseTrainer, BatchStream, adam, build_net as _build, image_tensor

NET_CLASSES = {"SRCNN": SRCNN}
HELDOUT_EVERY = 10  # without a separate evaluation set, every 10th training image is held out
EVAL_CHUNK = 8


def build_net(spec: dict):
    """Rebuild an SRCNN from its checkpoint spec."""
    return _build(spec, NET_CLASSES)


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Round [-1, 1] images to the 256 levels a uint8 image can hold."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input of a high-resolution image: antialiased bicubic ÷scale, quantised."""
    return quantise(bicubic(hr, 1 / scale))


def native_size(root: Path) -> int:
    """Shorter side of the first image of a folder (evaluation images are used at their own size)."""
    from PIL import Image

    from generation.datasets.folder import image_files

    with Image.open(image_files(root)[0]) as image:
        return min(image.size)


def evaluation_images(options: TrainOptions, dataset_root: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(held-out images, training images or None): a separate set when there is one, else a split."""
    fo, scale = options.family_options, options.family_options["scale"]
    spec = fo["eval_dataset"]
    if spec is None and options.dataset == "bundled:photos":
        spec = "bundled:photos-heldout"
    if spec is None:
        images = image_tensor(dataset_root, fo["image_size"])
        held = torch.arange(len(images)) % HELDOUT_EVERY == HELDOUT_EVERY - 1
        return images[held][: fo["eval_images"]], images[~held]
    from generation.datasets.bundled import resolve_dataset

    # Bundled sets share one cache folder: the training set's parent.
    root = resolve_dataset(spec, dataset_root.parent)
    size = native_size(root) // scale * scale
    return image_tensor(root, size)[: fo["eval_images"]], None


def random_crops(images: torch.Tensor, size: int) -> torch.Tensor:
    """One random ``size`` × ``size`` crop per image (offsets from the global generator)."""
    b, _, h, w = images.shape
    tops = torch.randint(0, h - size + 1, (b,)).tolist()
    lefts = torch.randint(0, w - size + 1, (b,)).tolist()
    return torch.stack([img[:, t:t + size, l:l + size] for img, t, l in zip(images, tops, lefts)])


class SRCNNTrainer(BaseTrainer):
    """Super-resolution by ``scale`` learnt from crops of real photos."""

    family = "srcnn"

    def __init__(self, options: TrainOptions, dataset_root: Path, device: torch.device):
        super().__init__(options, dataset_root, device)
        o, fo = options, options.family_options
        self.scale = fo["scale"]
        kwargs = {"channels": 3, "features": list(o.arch["features"]), "middle_kernel": o.arch["middle_kernel"],
                  "scale": self.scale, "residual": o.arch["residual"]}
        self.model = self.add_net("srcnn", SRCNN(**kwargs), kwargs)
        if kwargs["residual"]:
            # A zero last layer makes the residual model start as exactly bicubic, so it can only climb
            # from the baseline; measured: +0.5 dB over bicubic after 50 steps instead of -4.7 dB at start.
            torch.nn.init.zeros_(self.model.reconstruct.weight)
            torch.nn.init.zeros_(self.model.reconstruct.bias)
        self.optimizers = {"srcnn": adam(self.model, o.lr_g, o.betas_g)}
        self.heldout, train = evaluation_images(o, self.dataset_root)
        if train is None:
            train = image_tensor(self.dataset_root, fo["image_size"])
        self.streams = {"real": BatchStream(train, o.batch_size, o.seed, device)}

    def train_step(self) -> dict:
        hr = random_crops(self.streams["real"].next(), self.options.size)  # (b, 3, size, size)
        lr = downscale(hr, self.scale)  # (b, 3, size/scale, size/scale)
        with self.autocast():
            loss = F.mse_loss(self.model(lr).float(), hr)
        optimizer = self.optimizers["srcnn"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"mse": loss.detach()}

    def sampler(self):
        return SRCNNSampler(self.nets, self.options, info={"iteration": self.iteration}, state={},
                            device=self.device, heldout=self.heldout)

    def evaluate(self) -> dict[str, float]:
        """PSNR (dB, RGB, border = scale) of SRCNN and of bicubic on the held-out images."""
        return evaluate_psnr(self.model, self.heldout, self.scale, self.device)

    def sample_grid(self, seeds: list[int]) -> np.ndarray:
        """Rows of (bicubic, SRCNN, original) for held-out images picked by the first eight seeds."""
        sampler = self.sampler()
        picked = [sampler.heldout_image(seed) for seed in seeds[:8]]
        rows = []
        with torch.no_grad(), eval_mode([self.model]):
            for hr in picked:
                lr = downscale(hr.to(self.device), self.scale)
                rows += [bicubic(lr, self.scale), self.model.upscale(lr), hr]
        return image_grid(np.concatenate([to_uint8(r) for r in rows]), columns=3)


@torch.no_grad()
def evaluate_psnr(model: SRCNN, heldout: torch.Tensor, scale: int, device: torch.device) -> dict[str, float]:
    """Mean PSNR of SRCNN and bicubic upscaling against the held-out originals."""
    sr_scores, bicubic_scores = [], []
    with eval_mode([model]):
        for chunk in heldout.split(EVAL_CHUNK):
            hr = chunk.to(device)
            lr = downscale(hr, scale)
            sr_scores.append(psnr(model.upscale(lr), hr, border=scale) * len(hr))
            bicubic_scores.append(psnr(bicubic(lr, scale).clamp(-1, 1), hr, border=scale) * len(hr))
    sr, base = sum(sr_scores) / len(heldout), sum(bicubic_scores) / len(heldout)
    return {"psnr": sr, "bicubic_psnr": base, "psnr_gain": sr - base}


class SRCNNSampler(Sampler):
    """``upscale`` any uint8 images; ``images(seeds)`` super-resolves downscaled held-out images."""

    family = "srcnn"
    nets_used = ("srcnn",)

    def __init__(self, nets, options, *, heldout: torch.Tensor | None = None, **kwargs):
        super().__init__(nets, options, **kwargs)
        self.model = nets["srcnn"]
        self.scale = self.model.scale
        self._heldout = heldout

    def heldout_image(self, seed: int) -> torch.Tensor:
        """(1, 3, H, W) held-out original chosen by ``seed``."""
        if self._heldout is None:
            self._heldout, _ = evaluation_images(self.options, self.require_dataset())
        return self._heldout[seed % len(self._heldout)].unsqueeze(0)

    def image_shape(self) -> tuple[int, int]:
        return tuple(self.heldout_image(0).shape[-2:])

    def generate(self, seed: int) -> torch.Tensor:
        lr = downscale(self.heldout_image(seed).to(self.device), self.scale)
        return self.model.upscale(lr)

    def upscale(self, images: np.ndarray) -> np.ndarray:
        """uint8 (n, h, w, 3) -> uint8 (n, h·scale, w·scale, 3), one image per forward pass."""
        out = []
        with torch.no_grad(), eval_mode([self.model]):
            for image in np.asarray(images):
                out.append(to_uint8(self.model.upscale(from_uint8(image[None]).to(self.device)))[0])
        n, h, w = len(out), *np.asarray(images).shape[1:3]
        return np.stack(out) if out else np.zeros((n, h * self.scale, w * self.scale, 3), dtype=np.uint8)


TRAINER, SAMPLER = SRCNNTrainer, SRCNNSampler
