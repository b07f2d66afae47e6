"""CRN trainer and sampler: layout -> photo with CRN's VGG-19 feature-matching loss (not adversarial).

Without ``family_options["vgg_weights"]`` the loss runs on a fixed random-weight VGG; its warning becomes a
note of the run (stats.jsonl, TrainingOutcome.notes, progress events) so the researcher page can show it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from generation.nets.crn import CRN, crn_loss, split_images
from generation.nets.vgg import VGG19Features
from generation.training.options import TrainOptions
from generation.training.sampling import Sampler, seed_generator
from generation.training.trainers.base import BaseTrainer, BatchStream, adam, build_net as _build

NET_CLASSES = {"CRN": CRN}


def build_net(spec: dict):
    """Rebuild a CRN from its checkpoint spec."""
    return _build(spec, NET_CLASSES)


def paired_layouts(options: TrainOptions, dataset_root: Path, num_classes: int | None = None):
    """The layout/photo pairs at the run's size (height = size, width = aspect · size)."""
    from generation.datasets.paired import PairedLayouts

    fo = options.family_options
    height = options.size
    classes = num_classes if num_classes is not None else fo["num_classes"]
    return PairedLayouts(dataset_root, height, height * fo["aspect"], classes)


class CRNTrainer(BaseTrainer):
    """Cascaded refinement network trained on layout/photo pairs."""

    family = "crn"

    def __init__(self, options: TrainOptions, dataset_root: Path, device: torch.device):
        super().__init__(options, dataset_root, device)
        o, fo = options, options.family_options
        pairs = paired_layouts(o, self.dataset_root)
        base = o.arch["base_height"]
        kwargs = {"num_classes": pairs.num_classes, "height": pairs.height, "width": pairs.width,
                  "base_height": base, "base_width": base * fo["aspect"], "channels": o.arch["channels"],
                  "images_per_layout": fo["images_per_layout"]}
        self.crn = self.add_net("crn", CRN(**kwargs), kwargs)
        # Frozen and not saved: it is rebuilt from family_options (weights file or fixed random seed).
        self.vgg = VGG19Features(fo["vgg_weights"], width=fo["vgg_width"]).to(device)
        self.optimizers = {"crn": adam(self.crn, o.lr_g, o.betas_g)}
        self.streams = {"pairs": BatchStream(pairs.as_tensors(), o.batch_size, o.seed, device)}

    def train_step(self) -> dict:
        layout, photo = self.streams["pairs"].next()  # (b, h, w) int64, (b, 3, h, w)
        with self.autocast():
            fake = split_images(self.crn(layout).float(), self.crn.images_per_layout)  # (b, k, 3, h, w)
            loss, terms = crn_loss(fake, photo, self.vgg, layout=layout, num_classes=self.crn.num_classes)
        optimizer = self.optimizers["crn"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), **terms}

    def extra_state(self) -> dict:
        return {"vgg_pretrained": self.vgg.pretrained}

    def sampler(self):
        layouts = self.streams["pairs"].data[0]
        return CRNSampler(self.nets, self.options, info={"iteration": self.iteration}, state={},
                          device=self.device, layouts=layouts)


class CRNSampler(Sampler):
    """The seed picks a layout of the dataset and one of the k alternatives CRN paints for it."""

    family = "crn"
    nets_used = ("crn",)

    @classmethod
    def needs_dataset(cls, options) -> bool:
        return True

    def __init__(self, nets, options, *, layouts: torch.Tensor | None = None, **kwargs):
        super().__init__(nets, options, **kwargs)
        self.crn = nets["crn"]
        self._layouts = layouts

    def image_shape(self) -> tuple[int, int]:
        return self.crn.height, self.crn.width

    def layouts(self) -> torch.Tensor:
        """(n, h, w) int64 layouts of the training folder (loaded on first use)."""
        if self._layouts is None:
            pairs = paired_layouts(self.options, self.require_dataset(), self.crn.num_classes)
            self._layouts = pairs.as_tensors()[0]
        return self._layouts

    def choice(self, seed: int) -> tuple[int, int]:
        """(layout index, alternative) drawn from the seed alone."""
        generator = seed_generator(seed)
        index = int(torch.randint(len(self.layouts()), (1,), generator=generator))
        alternative = int(torch.randint(self.crn.images_per_layout, (1,), generator=generator))
        return index, alternative

    def generate(self, seed: int) -> torch.Tensor:
        index, alternative = self.choice(seed)
        layout = self.layouts()[index : index + 1].to(self.device)  # (1, h, w)
        images = split_images(self.crn(layout), self.crn.images_per_layout)  # (1, k, 3, h, w)
        return images[:, alternative]  # (1, 3, h, w)


TRAINER, SAMPLER = CRNTrainer, CRNSampler
