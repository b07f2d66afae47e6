from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis import exports, raw_export, selectors, tables


class Command(BaseCommand):
    help = (
        "Export a survey's results table as CSV, Excel (xlsx) or Markdown; every recorded response (raw, CSV); "
        "or the manifest (JSON) a table rests on."
    )

    def add_arguments(self, parser):
        parser.add_argument("survey", help="The survey's id, slug, or exact (unique) name.")
        parser.add_argument("--format", dest="fmt", choices=sorted(exports.EXPORT_FORMATS), default="csv")
        parser.add_argument(
            "--output", help="File to write. csv, md, raw and manifest go to stdout without it; "
            "xlsx goes to <slug>-results.xlsx in the current folder."
        )
        parser.add_argument(
            "--completed-only", action="store_true", help="Count only participants who completed the survey."
        )
        parser.add_argument(
            "--include-invalid", action="store_true",
            help="Count trials with invalid timing too (left out by default; the export says which).",
        )

    def handle(self, *args, survey, fmt, output, completed_only, include_invalid, **options):
        try:
            found = selectors.survey_find(reference=survey)
        except selectors.SurveyNotFound as error:
            raise CommandError(str(error)) from error
        if raw_export.takes_survey(exports.EXPORT_FORMATS[fmt]):
            content = exports.EXPORT_FORMATS[fmt].render(
                found, completed_only=completed_only, include_invalid=include_invalid
            )
            summary = {"survey_slug": found.slug}
        else:
            results = tables.survey_results(survey=found, completed_only=completed_only, include_invalid=include_invalid)
            content = exports.EXPORT_FORMATS[fmt].render(results)
            summary = results.summary
        if output is None and isinstance(content, str):
            self.stdout.write(content, ending="")
            return
        path = Path(output or exports.export_filename(summary, fmt))
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        self.stdout.write(str(path.resolve()))
