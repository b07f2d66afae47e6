"""Create a survey from the command line: a preset, the pools, any protocol field changed, and the links to share.

    manage.py create_survey "CRN timed" --preset crn-timed --pool real --pool crn --attention-pool bad \
        --set exposures_ms=250,1000 --set trials_per_cell=2 --prolific-code C1A2B3 --open
"""
from __future__ import annotations

import dataclasses

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from generation.management.owner import add_owner_argument, owner_from_options
from generation.models import ImagePool
from surveys import crowd, services
from surveys.models import Survey
from surveys.protocol import PRESETS, Protocol, ProtocolError, Staircase

# Protocol fields by the type their text is read as (the dataclass annotations, which are strings here).
FIELD_TYPES = {field.name: field.type for field in dataclasses.fields(Protocol)}
STAIRCASE_FIELDS = tuple(field.name for field in dataclasses.fields(Staircase))
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
NONE_WORDS = {"", "none", "null"}


class Command(BaseCommand):
    help = ("Create a survey from a preset and pools, changing any protocol field with --set field=value, "
            "and print its links (plain, Prolific, MTurk).")

    def add_arguments(self, parser):
        parser.add_argument("name", help="Researcher-facing name of the survey.")
        parser.add_argument("--preset", default="", help=f"Start from a preset: {', '.join(PRESETS)}.")
        parser.add_argument("--pool", action="append", default=[], dest="pools", metavar="NAME",
                            help="A compared pool, by name; give it once per pool.")
        parser.add_argument("--kind", choices=Survey.Kind.values, help="pairwise or real_fake (default: the preset's).")
        parser.add_argument("--trials", type=int, help="Main trials per participant (default: the preset's).")
        parser.add_argument("--set", action="append", default=[], dest="changes", metavar="FIELD=VALUE",
                            help="Change a protocol field, e.g. exposures_ms=125,250 or staircase.start_ms=400 "
                                 "or staircase=none; repeatable.")
        parser.add_argument("--attention-pool", metavar="NAME", help="A pool marked obviously bad, for attention checks.")
        parser.add_argument("--attention-real-pool", metavar="NAME",
                            help="A real pool for pairwise attention checks when no compared pool is real.")
        parser.add_argument("--prolific-code", default="", help="The study's Prolific completion code.")
        parser.add_argument("--prolific-screened-out-code", default="", help="Prolific's code for screened-out participants.")
        parser.add_argument("--open", action="store_true", help="Open the survey to participants now.")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the site is reached, for the links.")
        add_owner_argument(parser)

    def handle(self, *args, **options):
        if options["preset"] and options["preset"] not in PRESETS:
            raise CommandError(f"No preset named {options['preset']!r}; choose one of {', '.join(PRESETS)}.")
        base = PRESETS[options["preset"]].protocol if options["preset"] else Protocol()
        owner = owner_from_options(options)
        try:
            protocol = protocol_with_changes(base, options["changes"])
            survey = services.survey_create(
                name=options["name"], pools=[_pool(name) for name in options["pools"]], kind=options["kind"],
                trials_per_participant=options["trials"], preset=options["preset"], protocol=protocol,
                attention_bad_pool=_pool(options["attention_pool"]) if options["attention_pool"] else None,
                attention_real_pool=_pool(options["attention_real_pool"]) if options["attention_real_pool"] else None,
                prolific_completion_code=options["prolific_code"],
                prolific_screened_out_code=options["prolific_screened_out_code"], created_by=owner,
            )
            if options["open"]:
                services.survey_open(survey=survey)
        except (services.SurveyError, ProtocolError) as error:
            raise CommandError(str(error)) from None
        self._report(survey, options["base_url"].rstrip("/"))

    def _report(self, survey: Survey, base_url: str) -> None:
        link = base_url + reverse("surveys:welcome", kwargs={"slug": survey.slug})
        self.stdout.write(self.style.SUCCESS(
            f"Created survey {survey.pk} “{survey.name}” ({survey.get_status_display().lower()}): "
            f"{survey.kind}, {survey.trials_per_participant} main trials."
        ))
        self.stdout.write(f"Plain link:                 {link}")
        self.stdout.write(f"Prolific study URL:         {crowd.prolific_study_url(link)}")
        self.stdout.write(f"MTurk ExternalQuestion URL: {link}")
        if not survey.prolific_completion_code:
            self.stdout.write("No Prolific completion code: set one on the survey's page before using the Prolific URL.")


def _pool(name: str) -> ImagePool:
    pool = ImagePool.objects.filter(name=name).first()
    if pool is None:
        raise CommandError(f"No pool named {name!r}.")
    return pool


def protocol_with_changes(base: Protocol, changes: list[str]) -> Protocol:
    """``base`` with each ``field=value`` applied; ProtocolError names a field that does not exist or a bad value."""
    data = base.to_json()
    for change in changes:
        field, separator, text = change.partition("=")
        field, text = field.strip(), text.strip()
        if not separator:
            raise ProtocolError(f"--set takes field=value, not {change!r}.")
        if field == "staircase":
            data["staircase"] = _staircase_switch(text)
        elif field.startswith("staircase."):
            data["staircase"] = _staircase_change(data.get("staircase"), field.removeprefix("staircase."), text)
        elif field in FIELD_TYPES:
            data[field] = _value(field, text)
        else:
            raise ProtocolError(f"Unknown protocol field {field!r}; the fields are: {', '.join(FIELD_TYPES)}.")
    return Protocol.from_json(data)


def _staircase_switch(text: str) -> dict | None:
    if text.lower() in NONE_WORDS | FALSE_WORDS:
        return None
    if text.lower() in TRUE_WORDS:
        return dataclasses.asdict(Staircase())
    raise ProtocolError("staircase takes on (the default staircase) or none; set its fields as staircase.start_ms=…")


def _staircase_change(current: dict | None, name: str, text: str) -> dict:
    if name not in STAIRCASE_FIELDS:
        raise ProtocolError(f"Unknown staircase field {name!r}; the fields are: {', '.join(STAIRCASE_FIELDS)}.")
    return {**(current or dataclasses.asdict(Staircase())), name: _whole(f"staircase.{name}", text)}


def _value(field: str, text: str):
    """``text`` read as the protocol field's type."""
    kind = FIELD_TYPES[field]
    if kind.startswith("tuple"):
        return [_whole(field, part) for part in text.replace(" ", "").split(",") if part]
    if kind.endswith("| None") and text.lower() in NONE_WORDS:
        return None
    if kind.startswith("int"):
        return _whole(field, text)
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ProtocolError(f"{field} takes a number, not {text!r}.") from None
    if kind == "bool":
        if text.lower() not in TRUE_WORDS | FALSE_WORDS:
            raise ProtocolError(f"{field} takes yes or no, not {text!r}.")
        return text.lower() in TRUE_WORDS
    return text


def _whole(field: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProtocolError(f"{field} takes a whole number, not {text!r}.") from None
