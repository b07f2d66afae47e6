"""The live dashboard: a page that shows the survey's numbers as they come in, and the JSON it polls."""
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from analysis.live import survey_live_status
from surveys.selectors import survey_for_researcher

POLL_SECONDS = 5
NO_SCRIPT_REFRESH_SECONDS = 30


@login_required
@require_safe
@never_cache
def survey_live(request, pk: int):
    """Rendered with the current numbers, so it reads without JavaScript; live.js then keeps it current."""
    survey = survey_for_researcher(user=request.user, pk=pk)
    status = survey_live_status(survey=survey)
    return render(request, "analysis/survey_live.html", {
        "survey": survey,
        "status": status,
        "shown": _shown_texts(status),
        "poll_ms": POLL_SECONDS * 1000,
        "refresh_seconds": NO_SCRIPT_REFRESH_SECONDS,
    })


def _shown_texts(status: dict) -> dict[str, str]:
    """The formatted numbers, as live.js's formatters (same names) write them after each poll."""
    rate = status["participants"]["completion_rate"]
    minutes = status["median_minutes_completed"]
    return {
        "completion_rate": "—" if rate is None else f"{rate * 100:.1f} %",
        "median_minutes_completed": "—" if minutes is None else f"{minutes:.1f} min",
        "last_answer_at": _utc_text(status["answers"]["last_at"]),
        "generated_at": _utc_text(status["generated_at"]),
    }


def _utc_text(iso: str | None) -> str:
    return "—" if iso is None else iso.replace("T", " ").replace("Z", " UTC")


@login_required
@require_safe
def survey_live_json(request, pk: int):
    survey = survey_for_researcher(user=request.user, pk=pk)
    response = JsonResponse(survey_live_status(survey=survey))
    # Numbers from a minute ago must never be served again: not by the browser, not by a proxy.
    response["Cache-Control"] = "no-store"
    return response
