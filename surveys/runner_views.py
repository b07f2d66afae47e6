"""The trial pages: the page that runs the trials, and the endpoint that records answers."""
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import services
from .models import Participant, Survey
from .participant_pages import participant_page, render_page, session_participant
from .selectors import participant_current_trial, participant_next_trial


@never_cache
@require_GET
@participant_page
def trial(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    current = participant_current_trial(participant=participant)
    if current is None:
        return redirect("surveys:done", slug=survey.slug)
    return render_page(
        request, "trial.html", survey,
        trial=current,
        number=current.position + 1,
        total=participant.trials.count(),
        next_trial=participant_next_trial(participant=participant, after=current),
    )


@never_cache
@require_POST
def answer(request: HttpRequest, slug: str) -> HttpResponse:
    """Record an answer. Form posts are redirected to the next page; fetch() callers get JSON."""
    survey = get_object_or_404(Survey, slug=slug)
    participant = session_participant(request, survey)
    if participant is None:
        return _answer_refused(request, slug, 403, _("Your session has expired. Please start again."))
    try:
        fields = _answer_fields(request.POST)
        _response, created = services.response_record(participant=participant, **fields)
    except services.AnswerConflict as error:
        return _answer_refused(request, slug, 409, str(error))
    except services.TrialNotCurrent as error:
        return _answer_refused(request, slug, 409, str(error))
    except services.BadAnswer as error:
        return _answer_refused(request, slug, 400, str(error))
    if _wants_json(request):
        return JsonResponse({"recorded": True, "created": created})
    return redirect("surveys:trial", slug=slug)


def _answer_fields(data) -> dict:
    try:
        position = int(data.get("position", ""))
    except ValueError:
        raise services.BadAnswer("position must be a whole number.")
    reaction = data.get("reaction_time_ms") or None
    try:
        reaction_time_ms = float(reaction) if reaction is not None else None
        client_timing = json.loads(data["client_timing"]) if data.get("client_timing") else None
    except (ValueError, TypeError):
        raise services.BadAnswer("reaction_time_ms must be a number and client_timing a JSON object.")
    return {"position": position, "choice": data.get("choice", ""), "reaction_time_ms": reaction_time_ms,
            "client_timing": client_timing}


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _answer_refused(request: HttpRequest, slug: str, status: int, message: str) -> HttpResponse:
    # A replayed or stale form post must not show an error page to a participant who is simply
    # one step behind: send them to wherever they really are.
    if _wants_json(request):
        return JsonResponse({"recorded": False, "error": message}, status=status)
    if status == 409:
        return redirect("surveys:trial", slug=slug)
    if status == 403:
        return redirect("surveys:welcome", slug=slug)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


