from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis import exports, raw_export, selectors, static_charts, tables


class Command(BaseCommand):
    help = (
        "Export a survey's results tables as CSV, Excel (xlsx), Markdown or LaTeX (tex, booktabs tables); "
        "every recorded response (raw, CSV); the manifest (JSON) a table rests on; "
        "or every chart as SVG and PNG in a zip (charts; needs Chromium)."
    )

    def add_arguments(self, parser):
        parser.add_argument("survey", help="The survey's id, slug, or exact (unique) name.")
        parser.add_argument("--format", dest="fmt", choices=sorted(exports.EXPORT_FORMATS), default="csv")
        parser.add_argument(
            "--output", help="File to write. csv, md, tex, raw and manifest go to stdout without it; "
            "xlsx and charts go to <slug>-results.xlsx and <slug>-charts.zip in the current folder."
        )
        parser.add_argument(
            "--completed-only", action="store_true", help="Count only participants who completed the survey."
        )
        parser.add_argument(
            "--include-invalid", action="store_true",
            help="Count trials with invalid timing too (left out by default; the export says which).",
        )
        parser.add_argument(
            "--min-reaction-ms", type=float, default=tables.MIN_REACTION_MS,
            help="Answers faster than this (ms from the image's onset) are too fast to count, and participants "
            "with more than a quarter of such answers are left out (default %(default)g; 0 turns both rules off).",
        )

    def handle(self, *args, survey, fmt, output, completed_only, include_invalid, min_reaction_ms, **options):
        try:
            found = selectors.survey_find(reference=survey)
            counting = tables.CountingOptions(completed_only, include_invalid, min_reaction_ms).as_kwargs()
        except (selectors.SurveyNotFound, ValueError) as error:
            raise CommandError(str(error)) from error
        if raw_export.takes_survey(exports.EXPORT_FORMATS[fmt]):
            try:
                content = exports.EXPORT_FORMATS[fmt].render(found, **counting)
            except static_charts.StaticChartsUnavailable as error:
                raise CommandError(str(error)) from error
            summary = {"survey_slug": found.slug}
        else:
            results = tables.survey_results(survey=found, **counting)
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
