"""Training and sampling on a CUDA GPU with bf16 autocast (skipped on machines without one)."""

import math

import numpy as np
import pytest
import torch

from generation.training.loop import run_training
from generation.training.sampling import load_sampler
from tests.generation.training.conftest import FAMILIES, tiny_options

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("family", FAMILIES)
def test_family_trains_and_samples_on_cuda(family, dataset_roots, tmp_path):
    root = dataset_roots[family]
    events = []
    options = tiny_options(family, root, iterations=4, device="auto", amp="auto")
    outcome = run_training(options, tmp_path, dataset_root=root, progress_fn=events.append)
    assert outcome.status == "done"
    assert all(math.isfinite(v) for v in events[-1]["losses"].values())
    sampler = load_sampler(outcome.checkpoints[-1].path, device="cuda", dataset_root=root)
    batch = sampler.images([1, 2, 3])
    assert np.array_equal(sampler.images([2])[0], batch[1])
