"""manage.py export_demo_checkpoint RUN KEY: keep a run's last checkpoint as a demo checkpoint."""
import shutil

from django.core.management.base import BaseCommand, CommandError

from generation import selectors
from generation.demo_models import CHECKPOINT, SAMPLE, demo_model
from generation.training.checkpoints import load_checkpoint, sampling_payload, save_checkpoint


class Command(BaseCommand):
    help = (
        "Write a run's last checkpoint, reduced to the networks sampling needs, with its options, stats and "
        "last sample grid, into generation/demo_checkpoints/KEY/ (see generation/demo_models.py)."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", help="Training run (id or name).")
        parser.add_argument("key", help="The demo model's key in generation/demo_models.py.")

    def handle(self, *args, **options):
        run = selectors.run_find(ref=options["run"])
        if run is None:
            raise CommandError(f"No training run {options['run']!r}.")
        try:
            model = demo_model(options["key"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from None
        last = selectors.run_checkpoints(run=run).last()
        if last is None:
            raise CommandError(f'"{run.name}" has no checkpoint.')
        model.folder.mkdir(parents=True, exist_ok=True)
        info = save_checkpoint(model.folder / CHECKPOINT, sampling_payload(load_checkpoint(last.path)))
        for name in ("options.json", "stats.jsonl"):
            shutil.copyfile(f"{run.run_dir}/{name}", model.folder / name)
        if sample := selectors.run_file(run=run, relative=run.latest_sample):
            shutil.copyfile(sample, model.folder / SAMPLE)
        size = (model.folder / CHECKPOINT).stat().st_size
        self.stdout.write(self.style.SUCCESS(
            f"Wrote {model.folder}: iteration {info.iteration}, {size / 1e6:.2f} MB checkpoint."
        ))
