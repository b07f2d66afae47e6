"""Sampling speed of every bundled family through ``load_sampler(checkpoint).images(seeds)``.

For each family a checkpoint is taken from ``generation/demo_checkpoints/<key>/checkpoint.pt`` when it is
there (``--source auto``/``demo``), else made by training a few steps of the bench configuration (the same as
bench/train_speed.py) with ``run_training`` in a temporary run folder (``--source train``). The sampler is
loaded with ``load_sampler(path, device=..., dataset_root=...)`` and ``images(seeds)`` is timed for
``--images`` seeds (median of ``--repeats`` calls after one warm-up call); the figure is images/s including
the conversion to uint8.

Beside it, for context, the same generator in ONE batched forward pass over the same seeds' inputs (the same
per-seed latents / layouts / synthetic digits / held-out crops, stacked), also converted to uint8. Our sampler
runs one seed per forward pass on purpose, so that each image depends only on its seed (batched kernels may
differ in the last float bits); the ratio sampler / batched throughput shows what that costs, and the table
also shows how many uint8 values differ between the two ways.

    .venv/bin/python bench/sample_speed.py              # full run
    .venv/bin/python bench/sample_speed.py --quick      # smoke run
    .venv/bin/python bench/sample_speed.py --device cuda --images 256

Benchmarks assert nothing; they print figures and ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402  (puts the repo root on sys.path)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from generation.demo_models import CHECKPOINT, DEMO_MODELS  # noqa: E402
from generation.nets.crn import split_images  # noqa: E402
from generation.training.checkpoints import load_checkpoint  # noqa: E402
from generation.training.images import to_uint8  # noqa: E402
from generation.training.loop import run_training  # noqa: E402
from generation.training.options import TrainOptions  # noqa: E402
from generation.training.sampling import eval_mode, load_sampler, seed_generator  # noqa: E402
from generation.training.trainers.srcnn import downscale  # noqa: E402

DEMO_KEYS = {m.family: m.key for m in DEMO_MODELS}


def demo_checkpoint(family: str) -> Path | None:
    for model in DEMO_MODELS:
        if model.family == family and model.available:
            return model.folder / CHECKPOINT
    return None


def train_checkpoint(family: str, run_dir: Path, data_dir: Path, steps: int) -> Path:
    """Train ``steps`` iterations of the bench configuration and return the final checkpoint."""
    extra = {}
    if family == "progressive":
        # One-iteration fades/stable phases, so a few steps reach the final 32² stage the sampler should use.
        extra = {"family_options": {"fade_iters": 1, "stable_iters": 1}}
        steps = max(steps, 8)
    options = c.bench_options(family, "cpu", **extra)
    options.iterations = options.checkpoint_every = options.sample_every = options.log_every = steps
    outcome = run_training(options, run_dir, dataset_root=c.dataset_root(options, data_dir))
    return outcome.checkpoints[-1].path


# --- one batched forward pass of the same generator (context) ---------------------------------------------


def batched(sampler, seeds: list[int]) -> np.ndarray:
    """uint8 (n, h, w, 3): the sampler's per-seed inputs stacked and run through its net in one pass."""
    family, dev = sampler.family, sampler.device
    with torch.no_grad(), eval_mode(sampler.nets.values()):
        if family in ("dcgan", "progressive"):
            nets = sampler.nets
            g = nets["generator_ema"] if "generator_ema" in nets else nets["generator"]
            z = torch.cat([torch.randn(1, g.z_dim, generator=seed_generator(s)) for s in seeds]).to(dev)
            if family == "dcgan":
                out = g(z)
            else:
                stage = int(sampler.state.get("stage", g.num_stages - 1))
                out = g(z, stage, float(sampler.state.get("alpha", 1.0)))
                if out.shape[-1] != sampler.size:
                    out = F.interpolate(out, size=(sampler.size, sampler.size), mode="nearest")
        elif family == "srcnn":
            hr = torch.cat([sampler.heldout_image(s) for s in seeds]).to(dev)
            out = sampler.model.upscale(downscale(hr, sampler.scale))
        elif family == "crn":
            choices = [sampler.choice(s) for s in seeds]
            layouts = sampler.layouts()[torch.tensor([i for i, _ in choices])].to(dev)  # (n, h, w)
            images = split_images(sampler.crn(layouts), sampler.crn.images_per_layout)  # (n, k, 3, h, w)
            out = images[torch.arange(len(seeds)), torch.tensor([a for _, a in choices])]
        elif family == "simgan":
            out = sampler.refiner(torch.cat([sampler.synthetic(s) for s in seeds]).to(dev))
        else:
            raise ValueError(family)
        return to_uint8(out)


def measure(fn, repeats: int, device) -> list[float]:
    fn()  # warm-up (also loads lazily read data: layouts, held-out images)
    times = []
    for _ in range(repeats):
        c.synchronize(device)
        start = time.perf_counter()
        fn()
        c.synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="where to sample (cuda falls back to the CPU with a message when absent)")
    parser.add_argument("--images", type=int, default=None, help="seeds per timed call (default 64; --quick 8)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls, median reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 images, 2 repeats")
    parser.add_argument("--families", nargs="+", choices=c.FAMILIES, default=list(c.FAMILIES))
    parser.add_argument("--source", choices=("auto", "demo", "train"), default="auto",
                        help="checkpoints: shipped demo ones when present (auto), only those (demo), or trained here")
    parser.add_argument("--train-steps", type=int, default=2,
                        help="iterations trained to make a checkpoint when none is shipped (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--data-dir", type=Path, default=c.DEFAULT_DATA_DIR,
                        help="cache folder of the bundled datasets (built on first use)")
    args = parser.parse_args(argv)
    count = args.images or (8 if args.quick else 64)
    repeats = args.repeats or (2 if args.quick else 3)

    c.setup_threads(args.threads)
    device = c.resolve_device(args.device)
    print("sample_speed: images/s of load_sampler(...).images(seeds) vs one batched forward pass")
    for line in c.machine_lines(device):
        print("  " + line)
    print(f"  timing: {count} seeds (0..{count - 1}) per call, one warm-up call, median of {repeats} calls"
          f"{' (--quick: smoke run, not a measurement)' if args.quick else ''}\n")

    seeds = list(range(count))
    rows = []
    with tempfile.TemporaryDirectory(prefix="evalsite-bench-") as tmp:
        for family in args.families:
            path = demo_checkpoint(family) if args.source != "train" else None
            if path is not None:
                source = f"demo {DEMO_KEYS[family]}"
            elif args.source == "demo":
                rows.append([family, "no demo checkpoint", "-", "-", "-", "-", "-", "-", "-"])
                continue
            else:
                path = train_checkpoint(family, Path(tmp) / family, args.data_dir, args.train_steps)
                source = f"trained {load_checkpoint(path)['iteration']} it here"
            options = TrainOptions.from_dict(load_checkpoint(path)["options"])
            sampler = load_sampler(path, device=device, dataset_root=c.dataset_root(options, args.data_dir))
            ours = measure(lambda: sampler.images(seeds), repeats, device)
            base = measure(lambda: batched(sampler, seeds), repeats, device)
            a, b = sampler.images(seeds), batched(sampler, seeds)
            diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
            ours_rate, base_rate = count / c.median(ours), count / c.median(base)
            rows.append([
                family, source, f"{a.shape[1]}×{a.shape[2]}", f"{ours_rate:.1f}", c.spread(ours),
                f"{base_rate:.1f}", f"{ours_rate / base_rate:.2f}×",
                f"{int((diff > 0).sum())} of {diff.size}", str(int(diff.max())),
            ])
    print(c.table(["family", "checkpoint", "image", "sampler img/s", "spread", "batched img/s",
                   "sampler/batched", "uint8 values differing", "max |Δ|"], rows))
    print("  sampler: one forward pass per seed (each image a function of its seed alone); batched: the same inputs"
          "\n  stacked into one forward pass. Both include making the inputs and converting to uint8.")


if __name__ == "__main__":
    main()
