"""One trainer (and sampler) per bundled family; ``family_module`` finds a family's module lazily."""

from __future__ import annotations

import importlib
from types import ModuleType

from generation.training.options import FAMILIES


def family_module(family: str) -> ModuleType:
    """The module defining ``TRAINER``, ``SAMPLER`` and ``build_net`` for ``family``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose one of {', '.join(FAMILIES)}")
    return importlib.import_module(f"generation.training.trainers.{family}")


def trainer_class(family: str):
    """The trainer class of ``family``."""
    return family_module(family).TRAINER
