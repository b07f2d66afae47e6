"""manage.py matched_pools RUN RUN … --by iterations|hours --images N: one pool per run at an equal budget."""
from django.core.management.base import BaseCommand, CommandError

from generation import selectors
from generation.management.owner import add_owner_argument, owner_from_options
from generation.run_services import matched_budget_plans, matched_pool_name, pool_generate
from generation.services import PoolImportError


class Command(BaseCommand):
    help = (
        "Make one generated pool per run at an equal training budget, as the DCGAN-family study compared "
        "models at equal iterations and at equal training time. A run written A+B is run A super-resolved "
        "by the SRCNN run B (DCGAN+SRCNN; its training time counts both). Without --at, the budget is the "
        "largest that every run has reached."
    )

    def add_arguments(self, parser):
        parser.add_argument("runs", nargs="+", help="Runs (id or name), or GENERATOR+SRCNN pairs.")
        parser.add_argument("--by", choices=("iterations", "hours"), required=True)
        parser.add_argument("--at", type=float, help="The budget: an iteration count, or hours of training.")
        parser.add_argument("--images", type=int, required=True, help="Images per pool.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the first image in every pool.")
        parser.add_argument("--prefix", default="", help="Prefix for the pools' names.")
        add_owner_argument(parser)

    def handle(self, *args, **options):
        owner = owner_from_options(options)
        entries = [_entry(ref) for ref in options["runs"]]
        try:
            value, plans = matched_budget_plans(entries=entries, by=options["by"], value=options["at"])
            for plan in plans:
                name = matched_pool_name(plan, by=options["by"], value=value, prefix=options["prefix"])
                report = pool_generate(plan=plan, images=options["images"], name=name, seed=options["seed"],
                                       created_by=owner)
                pool = report.pool
                self.stdout.write(
                    f'"{pool.name}": {len(report.imported)} images, iteration {pool.iteration}, '
                    f"{pool.training_hours:.3g} h of training"
                )
        except PoolImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Made {len(plans)} pools at equal {options['by']}."))


def _entry(ref: str):
    generator_ref, _, srcnn_ref = ref.partition("+")
    return _run(generator_ref), (_run(srcnn_ref) if srcnn_ref else None)


def _run(ref: str):
    run = selectors.run_find(ref=ref)
    if run is None:
        raise CommandError(f"No training run {ref!r}.")
    return run
