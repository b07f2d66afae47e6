"""VGG-19 ``features`` written out by hand in torchvision's layout, for perceptual (feature-matching) losses.

Pretrained weights (~548 MB) cannot be downloaded here: pass a torchvision-layout state-dict file
(keys ``features.0.weight`` …, e.g. saved from ``torchvision.models.vgg19(weights=...)``). Without one
the network uses fixed random weights from a fixed seed and warns ``RandomVGGWarning``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

# torchvision's vgg19 "E" configuration: channel counts, "M" = 2×2 max-pool.
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
DEFAULT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
RANDOM_SEED = 19
# torchvision's weights expect [0, 1] RGB normalised with the ImageNet statistics (not MatConvNet's 0–255).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class RandomVGGWarning(UserWarning):
    """VGG19Features runs on fixed random weights because no pretrained file was given."""


def layer_indices() -> dict[str, int]:
    """Name ("conv3_2") -> index in ``features`` of the ReLU after that conv."""
    names, block, conv, index = {}, 1, 0, 0
    for item in VGG19_CONFIG:
        if item == "M":
            block, conv, index = block + 1, 0, index + 1
        else:
            conv += 1
            names[f"conv{block}_{conv}"] = index + 1
            index += 2
    return names


def build_features(last_index: int, width: float = 1.0) -> nn.Sequential:
    """torchvision's ``vgg19().features`` up to module ``last_index`` (channels scaled by ``width``)."""
    layers: list[nn.Module] = []
    cin = 3
    for item in VGG19_CONFIG:
        if len(layers) > last_index:
            break
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            cout = max(1, round(item * width))
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
            cin = cout
    return nn.Sequential(*layers[: last_index + 1])


class VGG19Features(nn.Module):
    """Frozen VGG-19 feature extractor: [-1, 1] RGB (b, 3, h, w) -> {layer name: activation}.

    Each "convN_M" output is taken after its ReLU, as in the CRN reference. ``width`` != 1 only
    makes sense with random weights (tests, tiny demos).
    """

    def __init__(
        self, weights_path: str | Path | None = None, layers: Sequence[str] = DEFAULT_LAYERS, width: float = 1.0
    ):
        super().__init__()
        indices = layer_indices()
        unknown = [name for name in layers if name not in indices]
        if unknown:
            raise ValueError(f"unknown VGG-19 layers {unknown}; choose from {list(indices)}")
        self.layers = tuple(layers)
        self._index = {indices[name]: name for name in layers}
        self.features = build_features(max(self._index), width)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.pretrained = weights_path is not None
        if weights_path is None:
            self._random_init()
            warnings.warn(
                RandomVGGWarning("no VGG-19 weights file given: perceptual losses use fixed random weights"),
                stacklevel=2,
            )
        else:
            self._load(Path(weights_path))
        self.requires_grad_(False)
        self.eval()

    def _random_init(self) -> None:
        # A private generator: identical weights in every instance, and the global RNG is left alone.
        generator = torch.Generator().manual_seed(RANDOM_SEED)
        with torch.no_grad():
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    fan_in = m.weight[0].numel()
                    m.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                    m.bias.zero_()

    def _load(self, path: Path) -> None:
        state = torch.load(path, weights_only=True, map_location="cpu")
        wanted = self.features.state_dict().keys()
        subset = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        missing = [f"features.{k}" for k in wanted if k not in subset]
        if missing:
            raise ValueError(f"{path} is not a torchvision VGG-19 state dict: missing {missing[:3]}")
        try:
            self.features.load_state_dict({k: subset[k] for k in wanted})
        except RuntimeError as exc:
            raise ValueError(f"{path} does not match VGG-19's shapes: {exc}") from exc

    def train(self, mode: bool = True) -> "VGG19Features":
        """Stays in eval mode whatever the parent module does."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = ((x + 1) / 2 - self.mean) / self.std  # torchvision normalisation
        out = {}
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in self._index:
                out[self._index[index]] = h
        return out
