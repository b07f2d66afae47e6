"""Helpers shared by the benchmark scripts: repo path, device choice, bundled data, configs, timing, tables.

Imported by ``bench/*.py`` (which run as ``python bench/x.py`` from the repository root, so this folder is on
``sys.path``). Pure PyTorch and the platform's pure modules only: no Django.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from generation.datasets import bundled_path  # noqa: E402
from generation.training.options import options_for  # noqa: E402

DEFAULT_DATA_DIR = REPO_ROOT / "var" / "datasets"
FAMILIES = ("dcgan", "progressive", "srcnn", "crn", "simgan")

# The benchmark configuration of each family (modest, CPU-sized; see bench/README.md). Values not named here
# are the family defaults of generation.training.options.FAMILY_DEFAULTS.
CONFIGS: dict[str, dict] = {
    # DCGAN 32², half width (G 128-64-32 maps, D 32-64-128), batch 64, non-saturating GAN loss, 1:1 updates.
    "dcgan": dict(size=32, batch_size=64, arch={"width": 0.5}),
    # Same nets with WGAN-GP: layer-norm critic, λ 10, 5 critic steps per generator step, Adam 1e-4 (0, 0.9).
    "dcgan-wgan-gp": dict(size=32, batch_size=64, arch={"width": 0.5}, loss="wgan-gp"),
    # Progressive 32², 64 channels at every stage, batch 16, WGAN-GP + drift, 1:1 (the family defaults).
    "progressive": dict(size=32, batch_size=16, arch={"channels": 64}),
    # SRCNN 9-1-5 (64, 32 maps), ×2, batch 64 of 32² crops from 64² photos (the family defaults).
    "srcnn": dict(),
    # CRN 32×64 (height 32, aspect 2), 64 channels, batch 4, random-weight VGG-19 loss (the family defaults).
    "crn": dict(),
    # SimGAN 28² grey digits, refiner 32 features 2 blocks, batch 32; no pretraining so every step is adversarial.
    "simgan": dict(arch={"features": 32, "blocks": 2},
                   family_options={"pretrain_refiner_steps": 0, "pretrain_d_steps": 0}),
}

DESCRIPTIONS = {
    "dcgan": "32² width 0.5 batch 64, gan 1:1",
    "dcgan-wgan-gp": "32² width 0.5 batch 64, wgan-gp 5:1",
    "progressive": "32² 64 ch batch 16, final stage (32², α 1)",
    "srcnn": "9-1-5 ×2, batch 64 of 32² crops",
    "crn": "32×64 64 ch batch 4, random VGG-19 loss",
    "simgan": "28² 32 feat 2 blocks batch 32, adversarial",
}


def bench_options(name: str, device: str, **extra):
    """TrainOptions of benchmark config ``name`` ("dcgan-wgan-gp" is a DCGAN variant)."""
    family = "dcgan" if name.startswith("dcgan") else name
    values = {**CONFIGS[name], **extra}
    return options_for(family, device=device, **values).validate()


def dataset_root(options, data_dir: Path) -> Path:
    """The bundled set an options object names, built into ``data_dir`` on first use."""
    assert options.dataset.startswith("bundled:"), "benchmarks use the bundled datasets"
    return bundled_path(options.dataset.split(":", 1)[1], data_dir)


def resolve_device(requested: str) -> torch.device:
    """"cpu", "cuda" (falls back to the CPU with a message when no CUDA GPU) or "auto"."""
    if requested == "cuda" and not torch.cuda.is_available():
        print("note: --device cuda was requested but no CUDA GPU is available here; falling back to the CPU.\n")
        return torch.device("cpu")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def setup_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


def machine_lines(device: torch.device) -> list[str]:
    """Where the figures were taken."""
    lines = [
        f"torch {torch.__version__} | python {platform.python_version()} | {platform.machine()} "
        f"| {os.cpu_count()} CPU cores visible | torch threads {torch.get_num_threads()} "
        f"(interop {torch.get_num_interop_threads()})",
    ]
    if device.type == "cuda":
        lines.append(f"device cuda: {torch.cuda.get_device_name(device)} (bf16 autocast when amp is 'auto')")
    else:
        lines.append("device cpu (float32)")
    try:
        load = os.getloadavg()
    except OSError:  # not available on this platform
        return lines
    lines.append(f"load average (1, 5, 15 min) at start: {' '.join(f'{x:.2f}' for x in load)}")
    if load[0] >= 1.0:
        lines.append("WARNING: other processes were using the CPU when this run started: figures may be distorted")
    return lines


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_repeats(fn, count: int, repeats: int, warmup: int, device: torch.device) -> list[float]:
    """Seconds per call of ``fn`` for each of ``repeats`` timed blocks of ``count`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        synchronize(device)
        per_call.append((time.perf_counter() - start) / count)
    return per_call


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """Relative spread (max - min) / median of repeated timings, as a percentage."""
    m = median(values)
    return f"±{100 * (max(values) - min(values)) / (2 * m):.0f}%" if m > 0 else "-"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain monospace table (first column left-aligned, the others right-aligned)."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
