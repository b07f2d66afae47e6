"""Exports that rest on the survey itself rather than on a results table.

``raw``: every recorded response, one CSV row each, with everything needed to redo the analysis
(and the crowd worker ids needed to approve payments). ``manifest``: what a results table rests
on (protocol, pools and their fingerprints, exclusions, methods, software), with the sha256 of the
raw export so the two files can be tied together.
"""
import csv
import hashlib
import io
import json
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from importlib import metadata
from typing import Callable

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from analysis import tables
from surveys.models import Response, Survey, SurveyArm
from surveys.selectors import survey_participant_counts

# Database fields behind the raw export's fixed columns, in column order (before the timing ones).
_RAW_FIELDS = {
    "response_id": "id",
    "participant_id": "trial__participant_id",
    "platform": "trial__participant__platform",
    "worker_id": "trial__participant__worker_id",
    "participant_completed_at": "trial__participant__completed_at",
    "participant_exclusion_reason": "trial__participant__exclusion_reason",
    "participant_screened_out_at": "trial__participant__screened_out_at",
    "position": "trial__position",
    "phase": "trial__phase",
    "block": "trial__block",
    "exposure_ms": "trial__exposure_ms",
    "left_arm": "trial__left_arm__label",
    "left_pool": "trial__left_arm__pool__name",
    "left_image": "trial__left_image__public_id",
    "right_arm": "trial__right_arm__label",
    "right_pool": "trial__right_arm__pool__name",
    "right_image": "trial__right_image__public_id",
    "expected_choice": "trial__expected_choice",
    "choice": "choice",
    "correct": "correct",
    "valid": "valid",
    "invalid_reasons": "invalid_reasons",
    "reaction_time_ms": "reaction_time_ms",
    "created_at": "created_at",
    "client_timing": "client_timing",
}

RAW_COLUMNS = [
    "survey_slug",
    "response_id",
    "participant_id",
    "platform",
    "worker_id",
    "participant_completed",
    "participant_completed_at",
    "participant_excluded",
    "participant_exclusion_reason",
    "participant_screened_out",
    "position",
    "phase",
    "block",
    "exposure_ms",
    "left_arm",
    "left_pool",
    "left_image",
    "right_arm",
    "right_pool",
    "right_image",
    "expected_choice",
    "choice",
    "correct",
    "valid",
    "invalid_reasons",
    "reaction_time_ms",
    "created_at",
]
TIMING_PREFIX = "timing_"
INVALID_REASONS_SEPARATOR = "; "


def _iso_utc(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(dt_timezone.utc).isoformat()


def _cell(value) -> str | int | float:
    """A CSV cell: empty for None, JSON text for lists and dicts, the value otherwise."""
    if value is None:
        return ""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def raw_rows(survey: Survey) -> tuple[list[str], list[dict]]:
    """The raw export's columns and rows: one row per recorded response, read in one query.

    Every response counts, whatever the exclusions: the participant and validity columns let the
    researcher filter. Real/fake trials show one image: it is the left one, the right side is empty.
    """
    records = (
        Response.objects.filter(trial__participant__survey=survey)
        .order_by("trial__participant_id", "trial__position")
        .values_list(*_RAW_FIELDS.values())
    )
    rows = []
    timing_keys: set[str] = set()
    for record in records:
        found = dict(zip(_RAW_FIELDS, record))
        timing = found.pop("client_timing") or {}
        if not isinstance(timing, dict):
            timing = {"value": timing}
        reasons = found["invalid_reasons"] or []
        if not isinstance(reasons, list):
            reasons = [reasons]
        row = {
            "survey_slug": survey.slug,
            **found,
            "participant_completed": found["participant_completed_at"] is not None,
            "participant_completed_at": _iso_utc(found["participant_completed_at"]),
            "participant_excluded": bool(found["participant_exclusion_reason"]),
            "participant_screened_out": found.pop("participant_screened_out_at") is not None,
            "invalid_reasons": INVALID_REASONS_SEPARATOR.join(str(reason) for reason in reasons),
            "created_at": _iso_utc(found["created_at"]),
        }
        for key, value in timing.items():
            row[f"{TIMING_PREFIX}{key}"] = value
            timing_keys.add(f"{TIMING_PREFIX}{key}")
        rows.append(row)
    return RAW_COLUMNS + sorted(timing_keys), rows


def raw_csv(survey: Survey, **options) -> str:
    """Every recorded response of ``survey`` as CSV (the options of the table exports don't apply)."""
    columns, rows = raw_rows(survey)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: _cell(row.get(column)) for column in columns})
    return out.getvalue()


def raw_sha256(survey: Survey) -> str:
    return hashlib.sha256(raw_csv(survey).encode("utf-8")).hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """The checkout's commit, or None where there is no git or no repository: never an error."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    commit = found.stdout.strip()
    return commit if found.returncode == 0 and commit else None


def software_versions() -> dict:
    return {
        "python": platform.python_version(),
        **{package: _version(package) for package in ("django", "numpy", "scipy", "pandas")},
        "evalsite_commit": _git_commit(),
    }


def _arms(survey: Survey) -> list[dict]:
    arms = (
        SurveyArm.objects.filter(survey=survey)
        .select_related("pool")
        .annotate(image_count=Count("pool__images"))
        .order_by("role", "position", "id")
    )
    return [
        {
            "label": arm.label,
            "role": arm.role,
            "position": arm.position,
            "pool": arm.pool.name,
            "kind": arm.pool.kind,
            "fingerprint": arm.pool.fingerprint,
            "images": arm.image_count,
            "model_family": arm.pool.model_family,
            "iteration": arm.pool.iteration,
            "training_seconds": arm.pool.training_seconds,
            "checkpoint": arm.pool.checkpoint,
            "seed": arm.pool.seed,
        }
        for arm in arms
    ]


def _participants(survey: Survey) -> dict:
    counts = survey_participant_counts(survey=survey)
    return {key: counts[key] for key in ("started", "completed", "excluded", "screened_out")}


def manifest(survey: Survey, *, completed_only: bool = False, include_invalid: bool = False,
             min_reaction_ms: float = tables.MIN_REACTION_MS) -> dict:
    """What a results table (with these options) rests on, so it can be recomputed and audited."""
    options = tables.CountingOptions(completed_only, include_invalid, min_reaction_ms)
    summary = tables.survey_results(survey=survey, **options.as_kwargs()).summary
    raw = raw_csv(survey).encode("utf-8")
    return {
        "survey": {
            "name": survey.name,
            "slug": survey.slug,
            "kind": survey.kind,
            "preset": survey.preset,
            "protocol": survey.protocol,
            "protocol_resolved": survey.get_protocol().to_json(),
            "main_trials": survey.trials_per_participant,
            "questions": {"en": survey.question_en, "ja": survey.question_ja},
            "opened_at": _iso_utc(survey.opened_at) or None,
            "closed_at": _iso_utc(survey.closed_at) or None,
        },
        "arms": _arms(survey),
        "participants": _participants(survey),
        "table_options": options.as_kwargs(),
        "responses_counted": summary["responses_counted"],
        "exclusions": [
            {"rule": exclusion.rule, "responses": exclusion.responses, "participants": exclusion.participants}
            for exclusion in summary["exclusions"]
        ],
        "methods": {
            "test": summary["test"],
            "interval": summary["interval"],
            "second_interval": summary["second_interval"],
            "adjustment": summary["adjustment"],
            "confidence": summary["confidence"],
            # Present when the survey has the table: the ranking, the exposure curves' fit, the HYPE scores.
            "ranking": summary.get("ranking_method") or None,
            "psychometric_threshold": summary.get("curve_method") or None,
            "hype": summary.get("hype_methods") or None,
        },
        "software": software_versions(),
        "generated_at": _iso_utc(timezone.now()),
        "raw_export": {
            "filename": f"{survey.slug}-responses.csv", "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw),
        },
    }


def manifest_json(survey: Survey, **options) -> str:
    return json.dumps(
        manifest(survey, **options),
        ensure_ascii=False, indent=2, default=str,
    ) + "\n"


@dataclass(frozen=True)
class SurveyExportFormat:
    """An export built from the survey itself: ``render(survey, **CountingOptions(...).as_kwargs())``."""

    extension: str
    content_type: str
    render: Callable[..., str | bytes]
    stem: str


RAW = SurveyExportFormat("csv", "text/csv; charset=utf-8", raw_csv, "responses")
MANIFEST = SurveyExportFormat("json", "application/json; charset=utf-8", manifest_json, "manifest")


def takes_survey(export_format) -> bool:
    """Whether an export format renders from the survey (raw, manifest) rather than from SurveyResults."""
    return isinstance(export_format, SurveyExportFormat)
