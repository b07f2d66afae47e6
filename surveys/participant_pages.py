"""What every participant page shares: finding the participant of this browser, and rendering."""
import functools

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language

from .models import Participant, Survey
from .selectors import participant_for_token

SESSION_KEY = "evalsite.participant.{slug}"


def session_participant_of(request: HttpRequest, slug: str) -> Participant | None:
    """This browser's participant in the survey ``slug``, its survey loaded with it (one query on every answer)."""
    return participant_for_token(slug=slug, token=request.session.get(SESSION_KEY.format(slug=slug)))


def session_participant_set(request: HttpRequest, participant: Participant) -> None:
    request.session[SESSION_KEY.format(slug=participant.survey.slug)] = participant.token


def participant_page(view):
    """Views of a participant already started: others are sent to the survey's first page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        participant = session_participant_of(request, slug)
        if participant is None:
            get_object_or_404(Survey, slug=slug)
            return redirect("surveys:welcome", slug=slug)
        return view(request, participant.survey, participant)

    return wrapper


def render_page(request, template: str, survey: Survey, **context) -> HttpResponse:
    language = get_language()
    context.update(survey=survey, question=survey.text_for("question", language))
    return render(request, f"surveys/participant/{template}", context)
