"""The pretrained demo checkpoints kept in ``generation/demo_checkpoints/``, and how each was made.

Each folder holds ``checkpoint.pt`` (only the networks sampling needs: no discriminator, no optimiser
state, so the repository stays small), the run's ``options.json`` and ``stats.jsonl`` and its last
sample grid. They were trained by this code on the bundled data with the command in ``made_by`` and
exported with ``manage.py export_demo_checkpoint RUN KEY``. ``make demo`` registers them as finished
training runs and samples pools from them in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent / "demo_checkpoints"
CHECKPOINT = "checkpoint.pt"
SAMPLE = "sample.png"
COPIED = ("options.json", "stats.jsonl", SAMPLE)


@dataclass(frozen=True)
class DemoModel:
    key: str  # folder under demo_checkpoints/
    run_name: str  # the training run's name in the demo
    family: str
    made_by: str  # the manage.py train command line that trained it

    @property
    def folder(self) -> Path:
        return DEMO_DIR / self.key

    @property
    def available(self) -> bool:
        return (self.folder / CHECKPOINT).is_file()


DEMO_MODELS = (
    DemoModel(
        "dcgan-photos-32", "demo: DCGAN on photos (32 px)", "dcgan",
        "train --model dcgan --size 32 --width 0.5 --batch-size 64 --iterations 3000 --checkpoint-every 500",
    ),
    DemoModel(
        "progressive-photos-32", "demo: multi-stage GAN on photos (32 px)", "progressive",
        "train --model progressive --size 32 --arch channels=64 --batch-size 16 --option fade_iters=400 "
        "--option stable_iters=400 --iterations 2800 --checkpoint-every 400",
    ),
    DemoModel(
        "srcnn-photos-x2", "demo: SRCNN x2 on photos", "srcnn",
        "train --model srcnn --size 32 --iterations 2000 --checkpoint-every 500",
    ),
    DemoModel(
        "simgan-digits", "demo: SimGAN on digits", "simgan",
        "train --model simgan --arch features=32 --arch blocks=2 --iterations 600 --checkpoint-every 200",
    ),
    DemoModel(
        "crn-layouts", "demo: CRN on layouts (32x64)", "crn",
        "train --model crn --size 32 --arch channels=32 --iterations 600 --checkpoint-every 200",
    ),
)


def demo_model(key: str) -> DemoModel:
    for model in DEMO_MODELS:
        if model.key == key:
            return model
    raise KeyError(f"no demo model {key!r}; known: {', '.join(m.key for m in DEMO_MODELS)}")
