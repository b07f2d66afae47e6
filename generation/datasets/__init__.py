"""Datasets for the bundled models: image folders, paired layouts, unpaired sets and bundled defaults.

Pure (no Django). The torch-backed adapters are imported lazily, so reading `BUNDLED` or resolving
a dataset path does not import torch.
"""
from generation.datasets.bundled import BUNDLED, BundledSpec, bundled_path, resolve_dataset, simulate_digit
from generation.datasets.errors import DatasetError

_LAZY = {
    "ImageFolder": "generation.datasets.folder",
    "PairedLayouts": "generation.datasets.paired",
    "Unpaired": "generation.datasets.unpaired",
}

__all__ = ["BUNDLED", "BundledSpec", "DatasetError", "bundled_path", "resolve_dataset", "simulate_digit", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
