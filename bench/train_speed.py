"""Training speed of every bundled family, and our DCGAN trainer against a plain PyTorch loop.

For each family (dcgan, progressive, srcnn, crn, simgan) this builds the platform's trainer
(``trainer_class(family).build(options, dataset_root, device)``) at a modest configuration (see
``bench/_common.py`` CONFIGS and bench/README.md), runs ``--warmup`` steps, then times ``--repeats`` blocks of
``--steps`` calls to ``trainer.step()`` and reports the median time per step (iterations/s = 1 / median).
One "iteration" is one generator (or model) step with its discriminator steps, as ``run_training`` counts it.

Beside it, a plain reference loop of the SAME DCGAN architecture written here directly (nets from
``generation.nets.dcgan``, BCE-with-logits, Adam, random batches indexed from one in-memory tensor of the
same data, same batch size, no platform code in the loop) is timed the same way, and the ratio
ours / reference step time is printed (target: ≤ 1.0, i.e. the trainer adds no overhead). The reference does
the same maths as our trainer (a D step on a no-grad fake, then a G step on a fresh fake through a frozen D).
A second, pytorch/examples-style reference (one G forward reused for both steps, D not frozen) is shown for
context. Ours and the references are timed in alternating blocks so that drifts of a shared machine hit both
alike. The same is done for DCGAN with WGAN-GP 5:1 unless ``--no-wgan`` (its blocks hold steps/5 generator
steps, each with 5 critic steps).

    .venv/bin/python bench/train_speed.py                 # full run (a few minutes on 2 CPU cores)
    .venv/bin/python bench/train_speed.py --quick         # smoke run (seconds)
    .venv/bin/python bench/train_speed.py --device cuda --steps 50 --families dcgan srcnn

Benchmarks assert nothing; they print figures and ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402  (puts the repo root on sys.path)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from generation.nets.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from generation.nets.progressive import num_stages  # noqa: E402
from generation.training.trainers import trainer_class  # noqa: E402
from generation.training.trainers.base import image_tensor  # noqa: E402
from generation.training.trainers.progressive import schedule  # noqa: E402


# --- the platform's trainers -------------------------------------------------------------------------------


def build_trainer(name: str, device: torch.device, data_dir: Path):
    options = c.bench_options(name, device.type)
    trainer = trainer_class(options.family).build(options, c.dataset_root(options, data_dir), device)
    if options.family == "progressive":
        advance_to_final_stage(trainer)
    return trainer


def advance_to_final_stage(trainer) -> None:
    """Put a fresh progressive trainer at the first iteration of its last (full-resolution, α = 1) stage.

    Only the iteration counter moves (the schedule is a function of it); the first step then builds the last
    stage's optimizers as a resumed run would. Earlier stages are not trained: their weights do not change
    the cost of a step.
    """
    o, fo = trainer.options, trainer.options.family_options
    final = (num_stages(o.size) - 1, 1.0)
    it = 0
    while schedule(it, o.size, fo["fade_iters"], fo["stable_iters"]) != final:
        it += 1
    trainer.iteration = it


def time_trainer(name: str, device, data_dir, steps, repeats, warmup) -> dict:
    trainer = build_trainer(name, device, data_dir)
    last = {}

    def step():
        last.update(trainer.step())

    per_step = c.time_repeats(step, steps, repeats, warmup, device)
    result = {"per_step": per_step, "images_per_step": trainer.images_per_step, "notes": trainer.notes}
    if trainer.options.family == "progressive":
        result["stage"] = (int(last["stage"]), float(last["alpha"]))
    return result


# --- the plain reference loops (no platform code inside) ----------------------------------------------------


class ReferenceDCGAN:
    """DCGAN training written out directly: nets from generation.nets.dcgan, Adam, BCE or WGAN-GP."""

    def __init__(self, data: torch.Tensor, device, *, size, width, z_dim, batch, loss, d_steps, style, amp):
        torch.manual_seed(0)
        self.device, self.batch, self.z_dim, self.loss, self.d_steps = device, batch, z_dim, loss, d_steps
        self.style = style  # "same" (our trainer's maths) or "examples" (pytorch/examples dcgan)
        self.data = data.to(device)  # (n, 3, size, size) in [-1, 1], decoded once
        self.g = DCGANGenerator(size=size, z_dim=z_dim, width=width).to(device)
        self.d = DCGANDiscriminator(size=size, width=width, norm="batch" if loss == "gan" else "layer").to(device)
        if loss == "gan":
            lr, betas = 2e-4, (0.5, 0.999)
        else:
            lr, betas = 1e-4, (0.0, 0.9)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=lr, betas=betas)
        self.amp = device.type == "cuda" and amp == "auto"

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp)

    def real_batch(self):
        return self.data[torch.randint(len(self.data), (self.batch,), device=self.device)]

    def noise(self):
        return torch.randn(self.batch, self.z_dim, device=self.device)

    def d_loss(self, real, fake):
        with self.autocast():
            real_logits, fake_logits = self.d(real).float(), self.d(fake).float()
        if self.loss == "gan":
            return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                    + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=self.device)
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.d(x_hat).sum(), x_hat, create_graph=True)
        gp = 10.0 * ((grad.flatten(1).pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()
        return fake_logits.mean() - real_logits.mean() + gp

    def g_loss(self, fake):
        with self.autocast():
            logits = self.d(fake).float()
        if self.loss == "gan":
            return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        return -logits.mean()

    def step(self) -> float:
        if self.style == "examples":
            for _ in range(self.d_steps):
                with self.autocast():
                    fake = self.g(self.noise()).float()
                loss_d = self.d_loss(self.real_batch(), fake.detach())
                self.opt_d.zero_grad()
                loss_d.backward()
                self.opt_d.step()
            loss_g = self.g_loss(fake)  # reuses the last fake; D gets (unused) gradients too
            self.opt_g.zero_grad()
            loss_g.backward()
            self.opt_g.step()
            return loss_g.item()
        for _ in range(self.d_steps):
            real = self.real_batch()
            with torch.no_grad(), self.autocast():
                fake = self.g(self.noise()).float()
            loss_d = self.d_loss(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        with self.autocast():
            fake = self.g(self.noise()).float()
        self.d.requires_grad_(False)
        loss_g = self.g_loss(fake)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.d.requires_grad_(True)
        return loss_g.item()  # one host sync per step, as our trainer's float(losses) does


STYLE_LABELS = {"same": "same maths", "examples": "pytorch/examples style"}


def wgan_steps(steps: int) -> int:
    """WGAN-GP 5:1 blocks time steps/5 generator steps: each already holds 5 critic steps."""
    return max(1, steps // 5)


def compare(name, styles, device, data_dir, steps, repeats, warmup) -> dict[str, list[float]]:
    """Seconds per step of our trainer and the reference loop(s), timed in alternating blocks.

    Alternating ours / reference block by block means slow drifts of the machine (another process, thermal
    limits) hit both sides alike, which matters on a shared 2-core machine.
    """
    options = c.bench_options(name, device.type)
    data = image_tensor(c.dataset_root(options, data_dir), options.size)
    runners = {"ours": build_trainer(name, device, data_dir).step}
    for style in styles:
        ref = ReferenceDCGAN(
            data, device, size=options.size, width=options.arch["width"], z_dim=options.arch["z_dim"],
            batch=options.batch_size, loss=options.loss, d_steps=options.d_steps_per_g, style=style,
            amp=options.amp,
        )
        runners[style] = ref.step
    times = {key: [] for key in runners}
    for fn in runners.values():
        c.time_repeats(fn, 0, 0, warmup, device)
    for _ in range(repeats):
        for key, fn in runners.items():
            times[key] += c.time_repeats(fn, steps, 1, 0, device)
    return times


# --- main ---------------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="where to train (cuda falls back to the CPU with a message when absent)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed block (default 10; --quick 2; WGAN-GP 5:1 uses steps/5)")
    parser.add_argument("--repeats", type=int, default=None, help="timed blocks, median reported (default 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 2; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 steps × 2 repeats, 1 warm-up step")
    parser.add_argument("--families", nargs="+", choices=c.FAMILIES, default=list(c.FAMILIES))
    parser.add_argument("--no-wgan", action="store_true", help="skip the DCGAN WGAN-GP 5:1 comparison")
    parser.add_argument("--no-reference", action="store_true", help="skip the plain reference loops")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--data-dir", type=Path, default=c.DEFAULT_DATA_DIR,
                        help="cache folder of the bundled datasets (built on first use)")
    args = parser.parse_args(argv)
    steps = args.steps or (2 if args.quick else 10)
    repeats = args.repeats or (2 if args.quick else 3)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)

    c.setup_threads(args.threads)
    device = c.resolve_device(args.device)
    print("train_speed: training iterations/s of the bundled families")
    for line in c.machine_lines(device):
        print("  " + line)
    print(f"  timing: {warmup} warm-up steps, then median of {repeats} blocks of {steps} steps"
          f"{' (--quick: smoke run, not a measurement)' if args.quick else ''}\n")

    started = time.perf_counter()
    rows, notes = [], []
    names = list(args.families)
    if "dcgan" in names and not args.no_wgan:
        names.insert(names.index("dcgan") + 1, "dcgan-wgan-gp")
    ours = {}
    for name in names:
        n_steps = wgan_steps(steps) if name == "dcgan-wgan-gp" else steps
        result = time_trainer(name, device, args.data_dir, n_steps, repeats, warmup)
        ours[name] = result
        m = c.median(result["per_step"])
        config = c.DESCRIPTIONS[name]
        if "stage" in result:
            config += f" [measured at stage {result['stage'][0]}, α {result['stage'][1]:g}]"
        rows.append([name, config, f"{1000 * m:.1f}", f"{1 / m:.2f}", f"{result['images_per_step'] / m:.0f}",
                     c.spread(result["per_step"])])
        notes += [f"{name}: {n}" for n in dict.fromkeys(result["notes"])]
    print(c.table(["family", "config", "ms/step", "it/s", "real img/s", "spread"], rows))
    for note in notes:
        print(f"  note: {note[:160]}")

    if not args.no_reference and "dcgan" in args.families:
        print("\nour DCGAN trainer vs a plain PyTorch loop of the same nets, timed in interleaved blocks "
              "(ratio = ours / reference step time; target ≤ 1.0)")
        rows = []
        for name in [n for n in ("dcgan", "dcgan-wgan-gp") if n in ours]:
            n_steps = wgan_steps(steps) if name == "dcgan-wgan-gp" else steps
            styles = ("same",) if name == "dcgan-wgan-gp" else ("same", "examples")
            times = compare(name, styles, device, args.data_dir, n_steps, repeats, warmup)
            ours_m = c.median(times["ours"])
            for style in styles:
                ref_m = c.median(times[style])
                verdict = "met" if ours_m <= ref_m else ("NOT met (within 5%)" if ours_m <= 1.05 * ref_m else "NOT met")
                rows.append([name, STYLE_LABELS[style], f"{1000 * ours_m:.1f}", c.spread(times["ours"]),
                             f"{1000 * ref_m:.1f}", c.spread(times[style]), f"{ours_m / ref_m:.3f}×",
                             verdict if style == "same" else "(context)"])
        print(c.table(["config", "reference", "ours ms", "spread", "ref ms", "spread", "ours/ref", "target"], rows))
        print("  'same maths': D step on a no-grad fake, then a G step on a fresh fake through a frozen D (what our\n"
              "  trainer does); 'pytorch/examples style': one G forward reused for both steps, D left unfrozen.")
    print(f"\ntotal wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
