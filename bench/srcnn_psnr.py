"""SRCNN quality after a fixed wall-clock training budget: PSNR of SRCNN vs bicubic on held-out photos.

Trains SRCNN with the family's default options (``options_for("srcnn")``: 9-1-5 with 64/32 maps, residual
with a zero-initialised last layer, ×2, batch 64 of random 32² crops of the 64² bundled ``photos``, Adam 1e-3)
by calling ``trainer.step()`` until ``--seconds`` of wall-clock time have passed (default 60 s; dataset
building and evaluation are not counted). Then it scores on the bundled ``photos-heldout`` set (128 crops of a
strip of the photos that no training crop overlaps, 128×128, loaded at their own size by the trainer's
``evaluation_images``):

* the low-resolution input is made exactly as the SRCNN trainer makes it,
  ``generation.training.trainers.srcnn.downscale``: antialiased bicubic ÷2 (``torch`` ``F.interpolate``
  bicubic, ``antialias=True``) of the [-1, 1] original, quantised to the 256 levels of a uint8 image;
* bicubic baseline: ``generation.nets.srcnn.bicubic(lr, 2)`` clamped to [-1, 1];
* SRCNN: ``model.upscale(lr)`` (clamped to [-1, 1]), eval mode, no gradients;
* PSNR against the original 128×128 image with a border of ``scale`` = 2 px cropped on every side:
  ``psnr_y`` on the BT.601 Y channel (0–255 scale, as SR papers report) and ``psnr`` on RGB (peak-to-peak 2);
  averaged over images (mean of per-image PSNR). Outputs are not rounded to uint8 before scoring.

Target: SRCNN ≥ bicubic + 1 dB (Y).

    .venv/bin/python bench/srcnn_psnr.py                # 60 s of training
    .venv/bin/python bench/srcnn_psnr.py --quick        # 5 s smoke run
    .venv/bin/python bench/srcnn_psnr.py --seconds 300 --device cuda

Benchmarks assert nothing; they print figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402  (puts the repo root on sys.path)
import torch  # noqa: E402

from generation.nets.srcnn import bicubic, psnr, psnr_y  # noqa: E402
from generation.training.options import options_for  # noqa: E402
from generation.training.sampling import eval_mode  # noqa: E402
from generation.training.trainers import trainer_class  # noqa: E402
from generation.training.trainers.srcnn import EVAL_CHUNK, downscale, evaluation_images  # noqa: E402

TARGET_GAIN_DB = 1.0


@torch.no_grad()
def score(model, heldout: torch.Tensor, scale: int, device) -> dict[str, float]:
    """Mean per-image PSNR (Y and RGB, border = scale) of bicubic and SRCNN against the originals."""
    sums = {"bicubic_y": 0.0, "srcnn_y": 0.0, "bicubic_rgb": 0.0, "srcnn_rgb": 0.0}
    with eval_mode([model]):
        for chunk in heldout.split(EVAL_CHUNK):
            hr = chunk.to(device)  # (b, 3, H, W) in [-1, 1]
            lr = downscale(hr, scale)  # the trainer's low-resolution input: bicubic ÷scale, antialiased, uint8 levels
            outputs = {"bicubic": bicubic(lr, scale).clamp(-1, 1), "srcnn": model.upscale(lr)}
            for name, out in outputs.items():
                # psnr/psnr_y average over the chunk; weight by its size for a mean over all images.
                sums[f"{name}_y"] += psnr_y(out, hr, border=scale) * len(hr)
                sums[f"{name}_rgb"] += psnr(out, hr, border=scale) * len(hr)
    return {k: v / len(heldout) for k, v in sums.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None, help="training wall-clock budget (default 60; --quick 5)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 s of training")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="where to train (cuda falls back to the CPU with a message when absent)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (options.seed)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--data-dir", type=Path, default=c.DEFAULT_DATA_DIR,
                        help="cache folder of the bundled datasets (built on first use)")
    args = parser.parse_args(argv)
    budget = args.seconds if args.seconds is not None else (5.0 if args.quick else 60.0)

    c.setup_threads(args.threads)
    device = c.resolve_device(args.device)
    options = options_for("srcnn", device=device.type, seed=args.seed).validate()
    root = c.dataset_root(options, args.data_dir)
    fo, scale = options.family_options, options.family_options["scale"]
    # All of photos-heldout (the default options score only its first eval_images during training runs).
    heldout, _ = evaluation_images(options_for("srcnn", family_options={"eval_images": 10**6}), root)

    print("srcnn_psnr: SRCNN vs bicubic on held-out photos after a fixed training budget")
    for line in c.machine_lines(device):
        print("  " + line)
    print(f"  options: options_for('srcnn') defaults: arch {options.arch}, ×{scale}, batch {options.batch_size} of "
          f"{options.size}² crops from {fo['image_size']}² {options.dataset}, Adam lr {options.lr_g}, seed {options.seed}")
    print(f"  evaluation: {len(heldout)} images of bundled:photos-heldout at {heldout.shape[-2]}×{heldout.shape[-1]}; "
          f"LR = trainers.srcnn.downscale (antialiased bicubic ÷{scale}, quantised to uint8 levels); "
          f"border crop {scale} px{' (--quick: smoke run)' if args.quick else ''}\n")

    trainer = trainer_class("srcnn").build(options, root, device)
    before = score(trainer.model, heldout, scale, device)
    start = time.perf_counter()
    losses = {}
    while time.perf_counter() - start < budget:
        losses = trainer.step()
    elapsed = time.perf_counter() - start
    after = score(trainer.model, heldout, scale, device)

    rows = []
    for channel in ("y", "rgb"):
        base, sr = after[f"bicubic_{channel}"], after[f"srcnn_{channel}"]
        gain = sr - base
        target = ("met" if gain >= TARGET_GAIN_DB else "NOT met") if channel == "y" else "(context)"
        rows.append([channel.upper() if channel == "y" else "RGB", f"{base:.2f}", f"{sr:.2f}", f"{gain:+.2f}",
                     f"{before[f'srcnn_{channel}'] - before[f'bicubic_{channel}']:+.2f}", target])
    print(f"trained {trainer.iteration} iterations in {elapsed:.1f} s ({trainer.iteration / elapsed:.2f} it/s), "
          f"last training MSE {losses.get('mse', float('nan')):.5f}")
    print(c.table(["PSNR (dB)", "bicubic", "SRCNN", "gain", "gain at step 0", f"target ≥ +{TARGET_GAIN_DB:g} dB (Y)"],
                  rows))
    print("  gain at step 0: the residual SRCNN starts as exactly bicubic (zero last layer), so 0 dB before training.")


if __name__ == "__main__":
    main()
