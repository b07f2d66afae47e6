"""Participant pages around the trials: welcome and consent, instructions, done. Anonymous, in Japanese and English.

welcome (consent) -> instructions -> trials (surveys.runner_views) -> done.
The participant is found through a token kept in their session, so a reload resumes. Crowd
workers (surveys.crowd) are also found by their worker id, so they resume in any browser.
"""
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from evalsite.ratelimit import rate_limited

from . import crowd, services
from .models import Participant, Survey
from .participant_pages import participant_page, render_page, session_participant_of, session_participant_set
from .selectors import participant_stage_counts

SCREENED_OUT_READING_S = 10


@rate_limited("page")
@rate_limited("start", methods=("POST",))
@never_cache
@require_http_methods(["GET", "POST"])
def welcome(request: HttpRequest, slug: str) -> HttpResponse:
    survey = get_object_or_404(Survey, slug=slug)
    try:
        identity = crowd.identity_from_query(request.GET)
    except crowd.CrowdRefused as refusal:
        return _refused(request, survey, str(refusal), status=400)
    if identity.preview:
        return _frameable_by_mturk(render_page(request, "preview.html", survey, minutes=crowd.estimated_minutes(survey),
                                               trial_count=crowd.planned_trial_count(survey)))
    if identity.platform == Participant.Platform.MTURK and request.headers.get("Sec-Fetch-Dest") == "iframe":
        return _mturk_frame(request, survey, identity)
    current = session_participant_of(request, survey.slug)
    if current is not None:
        return _resume_in_this_browser(request, survey, current, identity)
    returning = crowd.participant_for_worker(survey=survey, identity=identity)
    if returning is not None:
        return _resume(request, returning, identity)
    if survey.status != Survey.Status.OPEN:
        return render_page(request, "unavailable.html", survey, status=survey.status)
    if request.method == "POST":
        return _consent_given(request, survey, identity)
    return _consent_page(request, survey)


def _consent_page(request: HttpRequest, survey: Survey, **context) -> HttpResponse:
    return render_page(request, "consent.html", survey, consent=survey.text_for("consent", get_language()), **context)


def _consent_given(request: HttpRequest, survey: Survey, identity: crowd.CrowdIdentity) -> HttpResponse:
    if request.POST.get("consent") != "yes":
        return _consent_page(request, survey, error=_("Please tick the box to agree before you start."))
    try:
        participant = crowd.participant_start_or_existing(
            survey=survey, identity=identity, language=get_language(), user_agent=request.META.get("HTTP_USER_AGENT", "")
        )
    except services.SurveyNotOpen:
        return render_page(request, "unavailable.html", survey, status=survey.status)
    session_participant_set(request, participant)
    return redirect(_next_page(participant), slug=survey.slug)


def _resume_in_this_browser(request, survey: Survey, current: Participant, identity: crowd.CrowdIdentity) -> HttpResponse:
    """This browser already holds a participant: go on with it, unless the link names someone else."""
    if identity.is_crowd and not identity.is_participant(current):
        # Taking the other id over would merge two people's answers, or hand one person a second payment.
        return _refused(request, survey, _("This browser has already taken part in this study under another id, so it "
                                           "cannot start again under a new one. Thank you for your interest."), status=409)
    return _resume(request, current, identity)


def _resume(request: HttpRequest, participant: Participant, identity: crowd.CrowdIdentity) -> HttpResponse:
    participant = crowd.participant_crowd_update(participant=participant, identity=identity)
    session_participant_set(request, participant)
    return redirect(_next_page(participant), slug=participant.survey.slug)


def _next_page(participant: Participant) -> str:
    if participant.is_finished:
        return "surveys:done"
    if participant.answered_count:
        return "surveys:trial"
    return "surveys:instructions"


def _refused(request: HttpRequest, survey: Survey, reason: str, status: int) -> HttpResponse:
    response = render_page(request, "refused.html", survey, reason=reason)
    response.status_code = status
    return _frameable_by_mturk(response)  # a refused MTurk link is opened in MTurk's frame: let it be read there


def _mturk_frame(request: HttpRequest, survey: Survey, identity: crowd.CrowdIdentity) -> HttpResponse:
    """The accepted HIT inside MTurk's frame: the study itself runs in a tab of its own (see mturk_frame.html)."""
    return _frameable_by_mturk(render_page(
        request, "mturk_frame.html", survey,
        submit_url=crowd.mturk_submit_url(identity.turk_submit_to), assignment_id=identity.assignment_id,
    ))


def _frameable_by_mturk(response: HttpResponse) -> HttpResponse:
    """Pages without a form of ours may be shown in MTurk's frame, and in no one else's."""
    response.xframe_options_exempt = True
    response["Content-Security-Policy"] = f"frame-ancestors {' '.join(crowd.mturk_frame_ancestors())}"
    return response


@rate_limited("page")
@never_cache
@require_GET
@participant_page
def instructions(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    if participant.is_finished:
        return redirect("surveys:done", slug=survey.slug)
    protocol = survey.get_protocol()
    stages = participant_stage_counts(participant=participant).size
    return render_page(
        request, "instructions.html", survey,
        instructions=survey.text_for("instructions", get_language()),
        pairwise=survey.kind == Survey.Kind.PAIRWISE,
        timed=protocol.timed,
        adaptive=protocol.staircase is not None,
        choose_fake=protocol.choose == "fake",
        preference=_is_preference(survey),
        training_count=stages.get("training", 0),
        qualification_count=stages.get("qualification", 0),
        practice_count=stages.get("practice", 0),
        trial_count=stages.get("test", 0),
        blocks=protocol.blocks,
        countdown=protocol.countdown_s > 0,
        feedback=protocol.feedback,
    )


def _is_preference(survey: Survey) -> bool:
    """A pairwise survey of generated images only asks for a preference: no answer is right or wrong."""
    if survey.kind != Survey.Kind.PAIRWISE:
        return False
    return not survey.arms.filter(role="compared", pool__kind="real").exists()


@rate_limited("page")
@never_cache
@require_GET
@participant_page
def done(request: HttpRequest, survey: Survey, participant: Participant) -> HttpResponse:
    if not participant.is_finished:
        return redirect("surveys:trial", slug=survey.slug)
    screened_out = participant.screened_out_at is not None
    # A screened-out participant gets a moment to read why the study ended before being sent on.
    delay = SCREENED_OUT_READING_S if screened_out else 0
    context = {"participant": participant, "screened_out": screened_out, "redirect_delay_s": delay}
    if participant.platform == Participant.Platform.PROLIFIC:
        code = survey.prolific_screened_out_code if screened_out else survey.prolific_completion_code
        if code:
            context["prolific_url"] = crowd.prolific_completion_url(code)
    elif participant.platform == Participant.Platform.MTURK:
        context["mturk_submit_url"] = crowd.mturk_submit_url(participant.turk_submit_to)
    return render_page(request, "done.html", survey, **context)
