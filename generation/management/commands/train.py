"""manage.py train --model dcgan --dataset bundled:photos …: train a bundled model here, with a progress bar."""
import json
import signal
import threading
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from generation import selectors
from generation.management.owner import add_owner_argument, owner_from_options
from generation.management.progress import ProgressBar
from generation.models import TrainingRun
from generation.run_services import TrainingRunError, training_run_create, training_run_execute, training_run_resume

FAMILIES = ("dcgan", "progressive", "srcnn", "crn", "simgan")
# Command-line flags that map one to one onto TrainOptions fields.
OPTION_FLAGS = (
    "dataset", "size", "iterations", "batch_size", "seed", "loss", "d_steps_per_g", "gp_lambda",
    "lr_g", "lr_d", "betas_g", "betas_d", "checkpoint_every", "sample_every", "device", "amp",
)


class Command(BaseCommand):
    help = (
        "Train a bundled model (DCGAN, progressive GAN, SRCNN, CRN, SimGAN) in this process with a progress "
        "bar, or queue it on the Celery workers with --queue. Ctrl-C stops it with a checkpoint; "
        "--resume RUN continues a stopped run from its last checkpoint."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", choices=FAMILIES, help="The model family to train.")
        parser.add_argument("--resume", metavar="RUN", help="Continue a cancelled, failed or finished run (id or name).")
        parser.add_argument("--name", default="", help="Name of the run (default: '<model> on <dataset>').")
        parser.add_argument("--dataset", help='"bundled:photos", "bundled:faces", "bundled:layouts", '
                            '"bundled:digits", or a folder (see docs/datasets.md).')
        parser.add_argument("--size", type=int, help="Output size in pixels (CRN: height; width is twice it).")
        parser.add_argument("--iterations", type=int, help="Generator iterations (SRCNN: optimiser steps).")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--loss", choices=("gan", "wgan-gp"), help="Adversarial loss (gan: non-saturating).")
        parser.add_argument("--d-steps-per-g", type=int, help="Discriminator steps per generator step (e.g. 5).")
        parser.add_argument("--gp-lambda", type=float, help="Gradient-penalty weight for wgan-gp (default 10).")
        parser.add_argument("--lr-g", type=float, help="Generator (or SRCNN / CRN / refiner) learning rate.")
        parser.add_argument("--lr-d", type=float, help="Discriminator learning rate.")
        parser.add_argument("--betas-g", type=_betas, help="Adam betas of the generator, e.g. 0.5,0.999")
        parser.add_argument("--betas-d", type=_betas, help="Adam betas of the discriminator, e.g. 0,0.9")
        parser.add_argument("--checkpoint-every", type=int, help="Save a checkpoint every K iterations.")
        parser.add_argument("--sample-every", type=int, help="Save a sample grid every K iterations.")
        parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
        parser.add_argument("--amp", choices=("auto", "off"), help="Mixed precision on CUDA (auto) or never.")
        parser.add_argument("--width", type=float, help="Channel-width multiplier of the networks (arch width).")
        parser.add_argument("--arch", action="append", default=[], metavar="KEY=VALUE",
                            help="A network argument, e.g. --arch blocks=2 (repeatable; values are JSON).")
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                            help="A family option, e.g. --option scale=2 (repeatable; values are JSON).")
        parser.add_argument("--queue", action="store_true", help="Queue the run on the Celery workers and return.")
        add_owner_argument(parser)

    def handle(self, *args, **options):
        try:
            run = self._resume(options) if options["resume"] else self._create(options)
        except TrainingRunError as exc:
            raise CommandError(str(exc)) from None
        if options["queue"]:
            self.stdout.write(f'Queued training run "{run.name}" (id {run.pk}); its folder: {run.run_dir}')
            return
        self.stdout.write(f'Training run "{run.name}" (id {run.pk}) in {run.run_dir}')
        run = self._execute(run)
        self._report(run)

    def _create(self, options) -> TrainingRun:
        if not options["model"]:
            raise CommandError("Give --model (one of: " + ", ".join(FAMILIES) + ") or --resume RUN.")
        overrides = {key: options[key] for key in OPTION_FLAGS if options[key] is not None}
        arch = _key_values(options["arch"], "--arch")
        if options["width"] is not None:
            arch["width"] = options["width"]
        if arch:
            overrides["arch"] = arch
        if family_options := _key_values(options["option"], "--option"):
            overrides["family_options"] = family_options
        return training_run_create(
            family=options["model"], options=overrides, name=options["name"], queue=options["queue"],
            created_by=owner_from_options(options),
        )

    def _resume(self, options) -> TrainingRun:
        run = selectors.run_find(ref=options["resume"])
        if run is None:
            raise CommandError(f"No training run {options['resume']!r}.")
        return training_run_resume(run=run, iterations=options["iterations"], queue=options["queue"])

    def _execute(self, run: TrainingRun) -> TrainingRun:
        bar = ProgressBar(self.stderr, total=run.iterations)

        def progress(event: dict) -> None:
            losses = " ".join(f"{k} {v:.3g}" for k, v in (event.get("losses") or {}).items())
            bar.update(event["iteration"], suffix=losses, force=bool(event.get("checkpoint")))

        with _first_ctrl_c_stops_gracefully(self.stderr) as stop:
            try:
                run = training_run_execute(run=run, progress=progress, stop=stop)
            except KeyboardInterrupt:
                raise CommandError(f"Interrupted. Continue with: manage.py train --resume {run.pk}") from None
        bar.finish(run.iteration)
        return run

    def _report(self, run: TrainingRun) -> None:
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(f'Training run "{run.name}" failed: {run.error}')
        for note in run.notes:
            self.stderr.write(self.style.WARNING(note))
        last = selectors.run_checkpoints(run=run).last()
        self.stdout.write(self.style.SUCCESS(
            f"{run.get_status_display()}: {run.iteration} iterations, {run.images_seen} images seen, "
            f"{run.training_seconds:.1f} s of training."
        ))
        if last:
            self.stdout.write(f"Last checkpoint: {last.path}")
            self.stdout.write(f"Make a pool from it: manage.py generate {run.pk} --images 100")


@contextmanager
def _first_ctrl_c_stops_gracefully(stream):
    """The first Ctrl-C asks the loop to stop at the next iteration with a checkpoint; a second one
    interrupts at once."""
    requested = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        stream.write("\nStopping after this iteration with a checkpoint (Ctrl-C again to interrupt at once)…")

    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield requested.is_set
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)


def _betas(text: str) -> list[float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError("two numbers separated by a comma, e.g. 0.5,0.999") from None
    return [first, second]


def _key_values(pairs: list[str], flag: str) -> dict:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"{flag} takes KEY=VALUE, not {pair!r}.")
        try:
            result[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            result[key.strip()] = value  # a plain string, e.g. a path
    return result
