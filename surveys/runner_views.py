"""The trials: the page that runs them (surveys/static/surveys/runner.js), and its JSON endpoints.

- ``GET  trial/``   the page; without JavaScript an untimed survey still works as plain forms.
- ``GET  trials/``  the current trial's spec and the next few (surveys.specs).
- ``POST answer/``  records an answer; fetch() callers get JSON (feedback, finished, the next specs),
  form posts are redirected to the next page.
- ``POST check/``   stores the browser's refresh and window measurements and says whether a timed
  survey can run on it.
- ``GET  img/<id>`` an image of this participant's trials near the current one; any other is a 404.

The contract between these and the runner is docs/participant-protocol.md.
"""
import functools
import hashlib
import json
import math

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from evalsite.ratelimit import rate_limited
from generation.image_serving import NO_SUCH_IMAGE, serve_image

from . import selectors, services, specs
from .models import Participant, Survey
from .participant_pages import participant_page, render_page, session_participant_of

# The line above the images outside the test stage; trial.html's runner texts hold the same strings.
STAGE_NOTES = {
    "training": gettext_noop("Example {number} of {of}"),
    "qualification": gettext_noop("Qualification: {number} of {of}"),
    "practice": gettext_noop("Practice: {number} of {of}"),
}
MAX_CHECK_BYTES = 4096
CHECK_FIELDS = {
    "frame_ms": float, "frame_sd_ms": float, "frames": int, "late_frames": int, "frame_runs": int,
    "screen": list, "window": list, "dpr": float,
    "stimulus_px": float, "stimulus_fits": bool,
}


def _session_expired() -> JsonResponse:
    return JsonResponse({"recorded": False, "error": _("Your session has expired. Please start again.")}, status=403)


def json_participant(view):
    """JSON endpoints of a started participant: others get a 403 with a message, never a redirect."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        participant = session_participant_of(request, slug)
        if participant is None:
            get_object_or_404(Survey, slug=slug)
            return _session_expired()
        return view(request, participant.survey, participant)

    return wrapper


@rate_limited("page")
@never_cache
@require_GET
@participant_page
def trial(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    current = specs.upcoming_specs(participant)
    if not current:
        return redirect("surveys:done", slug=survey.slug)
    protocol = survey.get_protocol()
    width, height = specs.stimulus_size(survey)
    return render_page(
        request, "trial.html", survey,
        spec=current[0],
        stage_note=_stage_note(current[0]),
        timed=protocol.timed,
        image_count=2 if survey.kind == Survey.Kind.PAIRWISE else 1,
        aspect=f"{width / height:.4f}",
        max_stimulus_px=specs.MAX_STIMULUS_PX,
        config=_runner_config(survey, participant, protocol.timed),
    )


def _stage_note(spec: dict) -> str:
    note = STAGE_NOTES.get(spec["stage"])
    return _(note).format(number=spec["number"], of=spec["of"]) if note else ""


def _runner_config(survey: Survey, participant: Participant, timed: bool) -> dict:
    """What runner.js needs before its first request; the trials themselves come from GET trials/."""
    urls = {name: reverse(f"surveys:{name}", kwargs={"slug": survey.slug}) for name in ("trials", "answer", "check", "done")}
    # One answer queue per participant, so that answers left in a shared browser never go out under
    # someone else's session; named by a digest, as the token itself is the participant's key.
    digest = hashlib.sha256(participant.token.encode()).hexdigest()[:16]
    return {"kind": survey.kind, "timed": timed, "urls": urls, "queue_key": f"evalsite.answers.{digest}"}


@rate_limited("trials")
@never_cache
@require_GET
@json_participant
def trials(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    return JsonResponse(specs.runner_state(participant))


@rate_limited("image")
@require_safe
def image(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    """An image of this browser's participant's trials: the one just answered, the current one, the preloaded ones.

    Anything else (no session, another participant's image, a later trial's, an unknown id) is the one same 404,
    decided before the ETag is looked at, so that neither a body nor a 304 confirms that an image exists.
    """
    participant = session_participant_of(request, slug)
    found = None if participant is None else selectors.participant_trial_image(
        participant=participant, public_id=public_id, ahead=specs.LOOKAHEAD)
    if found is None:
        raise Http404(NO_SUCH_IMAGE)
    return serve_image(request, found)


@rate_limited("check")
@never_cache
@require_POST
@json_participant
def check(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    """Store the device check; a timed survey refuses a device it cannot time, saying why."""
    info = _check_fields(request.body)
    if info is None:
        return JsonResponse({"recorded": False, "error": _("The device check could not be read.")}, status=400)
    problems = specs.device_problems(info, survey=survey)
    info.update(ok=not problems, problems=[problem["code"] for problem in problems])
    services.participant_client_info_record(participant=participant, info=info)
    return JsonResponse({"recorded": True, "ok": not problems, "problems": problems})


def _check_fields(body: bytes) -> dict | None:
    """The known fields of a device check, each of its expected type; None when the body is not a JSON object."""
    if len(body) > MAX_CHECK_BYTES:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    typed = {name: _typed(data.get(name), kind) for name, kind in CHECK_FIELDS.items()}
    return {name: value for name, value in typed.items() if value is not None}


def _typed(value, kind):
    """``value`` as ``kind`` when it is one (ints pass as floats; lists keep up to 4 finite numbers), else None."""
    if isinstance(value, bool):
        return value if kind is bool else None
    if kind is list:
        return [item for item in value[:4] if _finite(item)] if isinstance(value, list) else None
    if kind is float:
        return float(value) if _finite(value) else None
    return value if kind is int and isinstance(value, int) else None


def _finite(value) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for any float
        return False


@rate_limited("answer")
@never_cache
@require_POST
def answer(request: HttpRequest, slug: str) -> HttpResponse:
    """Record an answer. Form posts are redirected to the next page; fetch() callers get JSON."""
    participant = session_participant_of(request, slug)
    if participant is None:
        get_object_or_404(Survey, slug=slug)
        return _answer_refused(request, slug, 403, _("Your session has expired. Please start again."))
    try:
        fields = _answer_fields(request.POST)
        response, created = services.response_record(participant=participant, **fields)
    except (services.AnswerConflict, services.TrialNotCurrent) as error:
        return _answer_refused(request, slug, 409, str(error))
    except services.BadAnswer as error:
        return _answer_refused(request, slug, 400, str(error))
    if not _wants_json(request):
        return redirect("surveys:trial", slug=slug)
    return JsonResponse({
        "recorded": True,
        "created": created,
        "feedback": _feedback(response),
        "finished": participant.is_finished,
        "trials": specs.upcoming_specs(participant),
    })


def _feedback(response) -> dict | None:
    """Right or wrong, only for trials that show it and have a right answer (never a preference)."""
    trial = response.trial
    if not trial.expected_choice or not services.trial_feedback(trial=trial):
        return None
    return {"correct": response.correct, "expected": trial.expected_choice}


def _answer_fields(data) -> dict:
    try:
        position = int(data.get("position", ""))
    except ValueError:
        raise services.BadAnswer("position must be a whole number.")
    reaction = data.get("reaction_time_ms") or None
    try:
        reaction_time_ms = float(reaction) if reaction is not None else None
        client_timing = json.loads(data["client_timing"]) if data.get("client_timing") else None
    except (ValueError, TypeError, RecursionError):  # RecursionError: arrays nested deeper than the parser's stack
        raise services.BadAnswer("reaction_time_ms must be a number and client_timing a JSON object.")
    return {"position": position, "choice": data.get("choice", ""), "reaction_time_ms": reaction_time_ms,
            "client_timing": client_timing}


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _answer_refused(request: HttpRequest, slug: str, status: int, message: str) -> HttpResponse:
    # A replayed or stale form post must not show an error page to a participant who is simply
    # one step behind: send them to wherever they really are.
    if _wants_json(request):
        return JsonResponse({"recorded": False, "conflict": status == 409, "error": message}, status=status)
    if status == 409:
        return redirect("surveys:trial", slug=slug)
    if status == 403:
        return redirect("surveys:welcome", slug=slug)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
