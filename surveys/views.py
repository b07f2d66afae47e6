"""Participant pages: anonymous, in Japanese and English, nothing in them tells where an image came from.

consent -> instructions -> trials (one page each, answers posted and redirected) -> done.
The participant is found through a token kept in their session, so a reload resumes.
"""
import functools
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import services
from .models import Participant, Survey
from .selectors import participant_current_trial, participant_for_token, participant_next_trial

SESSION_KEY = "evalsite.participant.{slug}"


def _session_participant(request: HttpRequest, survey: Survey) -> Participant | None:
    return participant_for_token(survey=survey, token=request.session.get(SESSION_KEY.format(slug=survey.slug)))


def participant_page(view):
    """Views of a participant already started: others are sent to the survey's first page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        survey = get_object_or_404(Survey, slug=slug)
        participant = _session_participant(request, survey)
        if participant is None:
            return redirect("surveys:welcome", slug=slug)
        return view(request, survey, participant)

    return wrapper


def _page(request, template: str, survey: Survey, **context) -> HttpResponse:
    language = get_language()
    context.update(survey=survey, question=survey.text_for("question", language))
    return render(request, f"surveys/participant/{template}", context)


@never_cache
@require_http_methods(["GET", "POST"])
def welcome(request: HttpRequest, slug: str) -> HttpResponse:
    survey = get_object_or_404(Survey, slug=slug)
    participant = _session_participant(request, survey)
    if participant is not None:
        return redirect("surveys:trial", slug=slug)
    if survey.status != Survey.Status.OPEN:
        return _page(request, "unavailable.html", survey, status=survey.status)
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return _page(request, "consent.html", survey, consent=survey.text_for("consent", get_language()),
                         error=_("Please tick the box to agree before you start."))
        participant = services.participant_start(
            survey=survey, language=get_language(), user_agent=request.META.get("HTTP_USER_AGENT", "")
        )
        request.session[SESSION_KEY.format(slug=slug)] = participant.token
        return redirect("surveys:instructions", slug=slug)
    return _page(request, "consent.html", survey, consent=survey.text_for("consent", get_language()))


@never_cache
@require_GET
@participant_page
def instructions(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    return _page(request, "instructions.html", survey, instructions=survey.text_for("instructions", get_language()),
                 trial_count=participant.trials.count())


@never_cache
@require_GET
@participant_page
def trial(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    current = participant_current_trial(participant=participant)
    if current is None:
        return redirect("surveys:done", slug=survey.slug)
    return _page(
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
    participant = _session_participant(request, survey)
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


@never_cache
@require_GET
@participant_page
def done(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    if not participant.is_complete:
        return redirect("surveys:trial", slug=survey.slug)
    return _page(request, "done.html", survey, participant=participant)
