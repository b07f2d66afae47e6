"""manage.py runs: the training runs, with their progress and checkpoints."""
from django.core.management.base import BaseCommand

from generation import selectors


class Command(BaseCommand):
    help = "List training runs: id, name, status, progress, training time and checkpoints."

    def add_arguments(self, parser):
        parser.add_argument("--checkpoints", action="store_true", help="Also list every run's checkpoints.")

    def handle(self, *args, **options):
        runs = selectors.run_list().order_by("pk")
        if not runs:
            self.stdout.write("No training runs yet. Start one with: manage.py train --model dcgan")
        for run in runs:
            self.stdout.write(
                f"{run.pk:>4}  {run.name}  [{run.family}, {run.get_status_display().lower()}]  "
                f"{run.iteration}/{run.iterations} it  {run.training_hours:.3g} h  "
                f"{run.checkpoint_count} checkpoints"
            )
            if options["checkpoints"]:
                for checkpoint in selectors.run_checkpoints(run=run):
                    self.stdout.write(
                        f"        it {checkpoint.iteration:>8}  {checkpoint.training_hours:8.3g} h  {checkpoint.path}"
                    )
