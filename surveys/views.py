"""Participant pages around the trials: consent, instructions, done. Anonymous, in Japanese and English.

consent -> instructions -> trials (surveys.runner_views) -> done.
The participant is found through a token kept in their session, so a reload resumes.
"""
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import services
from .models import Participant, Survey
from .participant_pages import participant_page, render_page, session_participant, session_participant_set


@never_cache
@require_http_methods(["GET", "POST"])
def welcome(request: HttpRequest, slug: str) -> HttpResponse:
    survey = get_object_or_404(Survey, slug=slug)
    participant = session_participant(request, survey)
    if participant is not None:
        return redirect("surveys:trial", slug=slug)
    if survey.status != Survey.Status.OPEN:
        return render_page(request, "unavailable.html", survey, status=survey.status)
    if request.method == "POST":
        if request.POST.get("consent") != "yes":
            return render_page(request, "consent.html", survey, consent=survey.text_for("consent", get_language()),
                         error=_("Please tick the box to agree before you start."))
        participant = services.participant_start(
            survey=survey, language=get_language(), user_agent=request.META.get("HTTP_USER_AGENT", "")
        )
        session_participant_set(request, participant)
        return redirect("surveys:instructions", slug=slug)
    return render_page(request, "consent.html", survey, consent=survey.text_for("consent", get_language()))


@never_cache
@require_GET
@participant_page
def instructions(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    return render_page(request, "instructions.html", survey, instructions=survey.text_for("instructions", get_language()),
                 trial_count=participant.trials.count())


@never_cache
@require_GET
@participant_page
def done(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    if not participant.is_complete:
        return redirect("surveys:trial", slug=survey.slug)
    return render_page(request, "done.html", survey, participant=participant)
