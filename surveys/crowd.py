"""Crowd platforms: who a participant is on Prolific or MTurk, and where their session ends.

A participant arrives through the survey link with the platform's query parameters:

- Prolific: ``?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…``; the done page sends them to
  ``https://app.prolific.com/submissions/complete?cc=<code>``.
- MTurk (ExternalQuestion): ``?assignmentId=…&hitId=…&workerId=…&turkSubmitTo=…``; a preview
  (``assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE``) only describes the task; the done page POSTs
  ``assignmentId`` and the completion code to ``<turkSubmitTo>/mturk/externalSubmit``.
- Neither: a plain (lab) link.

Ids are checked (length and characters) and ``turkSubmitTo`` must be one of
``settings.EVALSITE_MTURK_SUBMIT_HOSTS`` exactly, so that answers are never posted to a host a
link's author chose. One participant per (survey, platform, worker id), enforced by the database.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.db import IntegrityError
from django.http import QueryDict
from django.utils.translation import gettext as _

from . import services
from .models import Participant, Survey

PROLIFIC_PARAMS = {"PROLIFIC_PID": "worker_id", "STUDY_ID": "study_id", "SESSION_ID": "crowd_session_id"}
MTURK_PARAMS = {"workerId": "worker_id", "assignmentId": "assignment_id", "hitId": "hit_id", "turkSubmitTo": "turk_submit_to"}
MTURK_PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
PROLIFIC_COMPLETE_URL = "https://app.prolific.com/submissions/complete"
MTURK_SUBMIT_PATH = "/mturk/externalSubmit"
MTURK_WORKER_SITES = "https://*.mturk.com"  # worker.mturk.com, workersandbox.mturk.com frame a HIT's ExternalQuestion
# Prolific replaces these in a study URL with the participant's ids.
PROLIFIC_PLACEHOLDERS = "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
# Prolific ids are 24 hex digits and MTurk ids upper-case letters and digits; this admits both
# with room to spare, and nothing that could smuggle markup or a path into a page or a URL.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,100}")
# For the time estimate (the MTurk preview, Prolific's "estimated completion time"): answering one
# trial, on top of its exposure. Generous on purpose: an underpaid study is worse than an early finish.
SECONDS_PER_ANSWER = 3


class CrowdRefused(ValueError):
    """The link's crowd parameters cannot be accepted; the message is for the participant."""


@dataclass(frozen=True)
class CrowdIdentity:
    """Who arrived: a platform and that platform's ids (all empty for a plain link)."""

    platform: str = Participant.Platform.LAB
    worker_id: str = ""
    study_id: str = ""
    crowd_session_id: str = ""
    assignment_id: str = ""
    hit_id: str = ""
    turk_submit_to: str = ""
    preview: bool = False  # an MTurk worker looking at the HIT before accepting it

    @property
    def is_crowd(self) -> bool:
        return self.platform != Participant.Platform.LAB

    def start_fields(self) -> dict[str, str]:
        """The participant fields this identity sets (services.participant_start's keywords)."""
        return {
            "platform": self.platform, "worker_id": self.worker_id, "study_id": self.study_id,
            "crowd_session_id": self.crowd_session_id, "assignment_id": self.assignment_id,
            "hit_id": self.hit_id, "turk_submit_to": self.turk_submit_to,
        }

    def is_participant(self, participant: Participant) -> bool:
        """Whether ``participant`` is this identity's (a plain link matches only a plain-link participant)."""
        return (participant.platform, participant.worker_id) == (self.platform, self.worker_id)


def identity_from_query(query: QueryDict) -> CrowdIdentity:
    """The crowd identity in a survey link's query; CrowdRefused when its parameters are unusable."""
    has_prolific = any(name in query for name in PROLIFIC_PARAMS)
    has_mturk = any(name in query for name in MTURK_PARAMS)
    if has_prolific and has_mturk:
        raise CrowdRefused(_("This link mixes Prolific and MTurk parameters. Please open the study from your platform again."))
    if has_prolific:
        return _prolific_identity(query)
    if has_mturk:
        return _mturk_identity(query)
    return CrowdIdentity()


def _prolific_identity(query: QueryDict) -> CrowdIdentity:
    ids = _checked_ids(query, PROLIFIC_PARAMS, required=("PROLIFIC_PID",))
    return CrowdIdentity(platform=Participant.Platform.PROLIFIC, **ids)


def _mturk_identity(query: QueryDict) -> CrowdIdentity:
    if query.get("assignmentId") == MTURK_PREVIEW_ASSIGNMENT:
        return CrowdIdentity(platform=Participant.Platform.MTURK, preview=True)
    ids = _checked_ids(query, {name: field for name, field in MTURK_PARAMS.items() if name != "turkSubmitTo"},
                       required=("workerId", "assignmentId", "hitId"))
    submit_to = allowed_submit_origin(query.get("turkSubmitTo", ""))
    if submit_to is None:
        raise CrowdRefused(_("This link's MTurk submission address is not one this study accepts, so your answers "
                             "could not be submitted. Please open the HIT from MTurk again."))
    return CrowdIdentity(platform=Participant.Platform.MTURK, turk_submit_to=submit_to, **ids)


def _checked_ids(query: QueryDict, names: dict[str, str], required: tuple[str, ...]) -> dict[str, str]:
    ids = {}
    for name, field in names.items():
        value = query.get(name, "")
        if not value and name not in required:
            continue
        if not ID_PATTERN.fullmatch(value):
            raise CrowdRefused(_("This link's %(name)s is missing or malformed. Please open the study from your "
                                 "platform again.") % {"name": name})
        ids[field] = value
    return ids


def allowed_submit_origin(value: str) -> str | None:
    """``value`` as scheme://host when it is exactly one of the allowed MTurk hosts, else None.

    Only an origin is accepted: a path, query, fragment, user name or port not in the list is refused.
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    origin = f"{parts.scheme.lower()}://{parts.hostname.lower()}" + (f":{port}" if port is not None else "")
    allowed = {host.strip().rstrip("/").lower() for host in settings.EVALSITE_MTURK_SUBMIT_HOSTS}
    return origin if origin in allowed else None


def prolific_completion_url(code: str) -> str:
    return f"{PROLIFIC_COMPLETE_URL}?{urlencode({'cc': code})}"


def mturk_submit_url(turk_submit_to: str) -> str | None:
    """Where a worker's HIT is submitted; None unless the stored host is (still) allowed."""
    origin = allowed_submit_origin(turk_submit_to)
    return None if origin is None else origin + MTURK_SUBMIT_PATH


def mturk_frame_ancestors() -> list[str]:
    """Who may show the MTurk pages in a frame: MTurk's worker sites, and the allowed submission hosts."""
    return [MTURK_WORKER_SITES, *(host.strip().rstrip("/") for host in settings.EVALSITE_MTURK_SUBMIT_HOSTS)]


def prolific_study_url(plain_link: str) -> str:
    """The survey link as Prolific's "study URL", with the placeholders Prolific fills in."""
    return f"{plain_link}?{PROLIFIC_PLACEHOLDERS}"


def planned_trial_count(survey: Survey) -> int:
    """Every trial a participant answers: main trials plus attention checks and the phases before them."""
    protocol = survey.get_protocol()
    return (survey.trials_per_participant + protocol.attention_checks + protocol.practice_trials
            + protocol.training_examples + protocol.qualification_trials)


def estimated_minutes(survey: Survey) -> int:
    """A generous estimate of the session's length in whole minutes, for the MTurk preview."""
    protocol = survey.get_protocol()
    exposures = list(protocol.exposures_ms) or ([protocol.staircase.max_ms] if protocol.staircase else [0])
    per_trial_s = SECONDS_PER_ANSWER + sum(exposures) / len(exposures) / 1000
    countdowns_s = protocol.blocks * protocol.countdown_s
    return max(1, math.ceil((planned_trial_count(survey) * per_trial_s + countdowns_s) / 60))


def participant_for_worker(*, survey: Survey, identity: CrowdIdentity) -> Participant | None:
    if not identity.worker_id:
        return None
    return Participant.objects.filter(survey=survey, platform=identity.platform, worker_id=identity.worker_id).first()


def participant_start_or_existing(*, survey: Survey, identity: CrowdIdentity, language: str, user_agent: str) -> Participant:
    """A new participant for ``identity``, or the worker's existing one when a concurrent start won the race."""
    try:
        return services.participant_start(survey=survey, language=language, user_agent=user_agent,
                                          **identity.start_fields())
    except IntegrityError:
        existing = participant_for_worker(survey=survey, identity=identity)
        if existing is None:  # the constraint that failed was not the one-session-per-worker one
            raise
        return participant_crowd_update(participant=existing, identity=identity)


def participant_crowd_update(*, participant: Participant, identity: CrowdIdentity) -> Participant:
    """A returning MTurk worker may come back under a new assignment: submit that one, to the host it names."""
    if identity.platform != Participant.Platform.MTURK:
        return participant
    changes = {field: getattr(identity, field) for field in ("assignment_id", "hit_id", "turk_submit_to")
               if getattr(identity, field) and getattr(identity, field) != getattr(participant, field)}
    if changes:
        Participant.objects.filter(pk=participant.pk).update(**changes)
        for field, value in changes.items():
            setattr(participant, field, value)
    return participant


def survey_prolific_codes_set(*, survey: Survey, completion_code: str, screened_out_code: str) -> Survey:
    """Store the codes Prolific gave the study (known only once the study exists on Prolific)."""
    survey.prolific_completion_code = completion_code.strip()
    survey.prolific_screened_out_code = screened_out_code.strip()
    survey.full_clean(validate_unique=False, validate_constraints=False)
    survey.save(update_fields=["prolific_completion_code", "prolific_screened_out_code"])
    return survey
