"""manage.py import_pool NAME PATH: a folder, a .zip or one image file becomes a new image pool."""
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.management.owner import add_owner_argument, owner_from_options
from generation.models import ImagePool
from generation.services import PoolImportError, pool_import

PROGRESS_EVERY_S = 2.0


class Command(BaseCommand):
    help = "Import a folder, a .zip or one image file (PNG, JPEG, WebP) as a new image pool."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Name of the new pool (researcher-facing).")
        parser.add_argument("path", type=Path, help="Folder (read recursively), .zip, or one image file.")
        parser.add_argument("--kind", choices=ImagePool.Kind.values, default=ImagePool.Kind.IMPORTED)
        parser.add_argument("--skip-bad", action="store_true", help="Import the valid images and list the bad ones.")
        parser.add_argument("--model-family", help="e.g. dcgan, progressive, dcgan+srcnn, crn, simgan")
        parser.add_argument("--checkpoint", help="Checkpoint the images were sampled from.")
        parser.add_argument("--iteration", type=int, help="Training iteration of the checkpoint.")
        parser.add_argument("--training-seconds", type=float, help="Wall-clock training time of the checkpoint.")
        parser.add_argument("--seed", type=int, help="Sampling seed.")
        add_owner_argument(parser)

    def handle(self, *args, **options):
        owner = owner_from_options(options)
        provenance = {
            key: options[key]
            for key in ("model_family", "checkpoint", "iteration", "training_seconds", "seed")
            if options[key] is not None
        }
        try:
            report = pool_import(
                name=options["name"],
                source=options["path"],
                kind=options["kind"],
                skip_bad=options["skip_bad"],
                provenance=provenance,
                progress=self._progress_printer(),
                created_by=owner,
            )
        except PoolImportError as exc:
            hint = "\nFix or remove these files, or pass --skip-bad to import the rest." if exc.problems else ""
            raise CommandError(f"{exc}{hint}") from None
        self._print_report(report)

    def _progress_printer(self):
        # Silent for quick imports; a line every few seconds for long ones.
        started = last = time.monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY_S or (done == total and now - started >= PROGRESS_EVERY_S):
                last = now
                self.stderr.write(f"checked {done}/{total or '?'} files")

        return progress

    def _print_report(self, report) -> None:
        pool = report.pool
        imported = _count(report.imported, "image")
        self.stdout.write(self.style.SUCCESS(f'Imported {imported} into pool "{pool.name}" (id {pool.pk}).'))
        duplicates = [f"{name} duplicates {first}" for name, first in report.duplicates]
        self._print_list(f"{_count(duplicates, 'duplicate')}, stored once:", duplicates)
        rejected = [f"{name}: {reason}" for name, reason in report.rejected]
        self._print_list(f"{_count(rejected, 'file')} rejected:", rejected)
        self._print_list(f"{_count(report.ignored, 'file')} ignored:", report.ignored)
        self.stdout.write(f"Fingerprint: {pool.fingerprint}")

    def _print_list(self, heading: str, lines: list[str]) -> None:
        if lines:
            self.stdout.write(heading)
            for line in lines:
                self.stdout.write(f"  {line}")


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
