"""manage.py generate RUN --images N [--at-iteration I | --at-hours H | --checkpoint C]: a pool from a run."""
from django.core.management.base import BaseCommand, CommandError

from generation import selectors
from generation.management.owner import add_owner_argument, owner_from_options
from generation.management.progress import ProgressBar
from generation.models import TrainingRun
from generation.run_services import pool_generate, sampling_plan
from generation.services import PoolImportError


class Command(BaseCommand):
    help = (
        "Sample a new generated pool from a training run's checkpoint: the latest, the latest at or before "
        "an iteration, the latest within a training time, or a checkpoint file. Image i uses seed S + i, so "
        "every image can be made again from its seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("run", help="Training run (id or name).")
        parser.add_argument("--images", type=int, required=True, help="How many images to sample.")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--at-iteration", type=int, metavar="I", help="Latest checkpoint at or before iteration I.")
        which.add_argument("--at-hours", type=float, metavar="H", help="Latest checkpoint within H hours of training.")
        which.add_argument("--checkpoint", metavar="C", help="A checkpoint of the run: its iteration or its file path.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the first image (default 0).")
        parser.add_argument("--name", default="", help="Name of the new pool (default: '<run> @ <iteration> it').")
        parser.add_argument("--super-resolve", metavar="SRCNN_RUN",
                            help="Super-resolve every image with this SRCNN run (DCGAN+SRCNN).")
        add_owner_argument(parser)

    def handle(self, *args, **options):
        owner = owner_from_options(options)
        run = _run(options["run"])
        srcnn = _run(options["super_resolve"]) if options["super_resolve"] else None
        try:
            plan = sampling_plan(
                run=run,
                at_iteration=options["at_iteration"],
                at_hours=options["at_hours"],
                checkpoint=_checkpoint(run, options["checkpoint"]),
                srcnn_run=srcnn,
            )
            bar = ProgressBar(self.stderr, total=options["images"], unit="img")
            report = pool_generate(
                plan=plan,
                images=options["images"],
                name=options["name"],
                seed=options["seed"],
                progress=lambda done, total: bar.update(done),
                created_by=owner,
            )
        except PoolImportError as exc:
            raise CommandError(str(exc)) from None
        bar.finish(options["images"])
        pool = report.pool
        self.stdout.write(self.style.SUCCESS(
            f'Made pool "{pool.name}" (id {pool.pk}): {len(report.imported)} images from {plan.model_family} '
            f"at iteration {pool.iteration} ({pool.training_hours:.3g} h of training), seeds "
            f"{options['seed']}…{options['seed'] + options['images'] - 1}."
        ))
        if report.duplicates:
            self.stdout.write(self.style.WARNING(
                f"{len(report.duplicates)} sampled images were identical to others and stored once "
                "(a sign of mode collapse)."
            ))


def _run(ref: str) -> TrainingRun:
    run = selectors.run_find(ref=ref)
    if run is None:
        raise CommandError(f"No training run {ref!r}. List them with: manage.py runs")
    return run


def _checkpoint(run: TrainingRun, ref: str | None):
    if ref is None:
        return None
    checkpoints = selectors.run_checkpoints(run=run)
    found = checkpoints.filter(iteration=int(ref)).first() if ref.isdigit() else checkpoints.filter(path=ref).first()
    if found is None:
        raise CommandError(f'"{run.name}" has no checkpoint {ref!r}.')
    return found
