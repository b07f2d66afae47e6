"""Researcher pages for surveys: dashboard, create, detail, open / close, Prolific codes. All behind login."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from analysis import planning
from generation.selectors import pool_import_list_for_researcher, pool_list_for_researcher

from . import crowd, services
from .forms import ProlificCodesForm, SurveyCreateForm, preset_name
from .models import Survey
from .protocol import PRESETS, ProtocolError
from .selectors import survey_for_researcher, survey_list_with_counts, survey_participant_counts, survey_size_warning


@login_required
def dashboard(request):
    return render(request, "surveys/researcher/dashboard.html", {
        "surveys": survey_list_with_counts(user=request.user),
        "pool_count": pool_list_for_researcher(user=request.user).count(),
        "recent_imports": pool_import_list_for_researcher(user=request.user)[:5],
    })


@login_required
def survey_create(request):
    """GET ``?preset=NAME`` fills the form with that preset's values; POST creates the survey."""
    chosen = preset_name(request.POST.get("preset") or request.GET.get("preset"))
    form = SurveyCreateForm(request.POST or None, initial=SurveyCreateForm.initial_for(chosen), user=request.user)
    if request.method == "POST" and form.is_valid():
        survey = _create_from_form(request, form)
        if survey is not None:
            messages.success(request, f"Survey “{survey.name}” created.")
            if warning := survey_size_warning(survey=survey):
                messages.warning(request, warning)
            return redirect("surveys:survey_detail", pk=survey.pk)
    return render(request, "surveys/researcher/survey_create.html", {
        "form": form, "presets": PRESETS.values(), "preset": PRESETS[chosen],
    })


def _create_from_form(request, form: SurveyCreateForm) -> Survey | None:
    """The survey the valid form describes, opened if asked; None with the refusal added to the form."""
    data = form.cleaned_data
    try:
        survey = services.survey_create(
            name=data["name"], pools=list(data["pools"]), kind=data["kind"],
            trials_per_participant=data["trials_per_participant"], preset=data["preset"], protocol=form.protocol(),
            attention_bad_pool=data["attention_bad_pool"], attention_real_pool=data["attention_real_pool"],
            created_by=request.user, prolific_completion_code=data["prolific_completion_code"],
            prolific_screened_out_code=data["prolific_screened_out_code"], **form.texts(),
        )
        if data["open_now"]:
            services.survey_open(survey=survey)
    except (services.SurveyError, ProtocolError) as error:
        form.add_error(None, str(error))
        return None
    return survey


@login_required
def survey_detail(request, pk: int):
    survey = survey_for_researcher(user=request.user, pk=pk)
    link = request.build_absolute_uri(survey_link(survey))
    return render(request, "surveys/researcher/survey_detail.html", {
        "survey": survey,
        "arms": survey.arms.select_related("pool").annotate(image_count=Count("pool__images")).order_by("position", "id"),
        "counts": survey_participant_counts(survey=survey),
        "platform_counts": _platform_counts(survey),
        "participants": _participant_rows(survey),
        "size_warning": survey_size_warning(survey=survey),
        "protocol_rows": protocol_summary(survey),
        "preset": PRESETS.get(survey.preset),
        "link": link,
        "prolific_link": crowd.prolific_study_url(link),
        "minutes": crowd.estimated_minutes(survey),
        "prolific_form": ProlificCodesForm(instance=survey),
        **_planning(request, survey),
    })


def _planning(request, survey: Survey) -> dict:
    """The sample-size calculator's inputs (percent, from the query) and its answer."""
    try:
        rate = int(request.GET.get("plan_rate", round(planning.DEFAULT_RATE * 100)))
        power = int(request.GET.get("plan_power", round(planning.DEFAULT_POWER * 100)))
        plan = planning.participants_needed(survey=survey, rate=rate / 100, power=power / 100)
    except ValueError as error:
        return {"plan_rate": request.GET.get("plan_rate", ""), "plan_power": request.GET.get("plan_power", ""),
                "plan": None, "plan_error": f"No plan: {error}"}
    return {"plan_rate": rate, "plan_power": power, "plan": plan,
            "plan_half_width": f"{plan.need.expected_wilson_width * 50:.1f}"}


def _platform_counts(survey: Survey) -> list[dict]:
    return list(survey.participants.values("platform").annotate(
        started=Count("id"), completed=Count("id", filter=Q(completed_at__isnull=False)),
    ).order_by("platform"))


def _participant_rows(survey: Survey):
    """Each participant's ids, code and state: what approving or rejecting crowd submissions needs."""
    return survey.participants.order_by("created_at").values(
        "id", "platform", "worker_id", "assignment_id", "completion_code", "created_at", "completed_at",
        "screened_out_at", "exclusion_reason",
    ).annotate(answered=Count("trials__response"), trials=Count("trials"))


def protocol_summary(survey: Survey) -> list[tuple[str, str]]:
    """The protocol as (what, value) rows a researcher reads at a glance."""
    protocol = survey.get_protocol()
    stairs = protocol.staircase
    if stairs is not None:
        exposure = (f"adaptive: start {stairs.start_ms} ms, {stairs.min_ms}–{stairs.max_ms} ms, "
                    f"+{stairs.step_after_error_ms} ms after an error, −{stairs.step_after_correct_ms} ms after a hit")
    elif protocol.exposures_ms:
        exposure = ", ".join(f"{value} ms" for value in protocol.exposures_ms)
    else:
        exposure = "unlimited (until the answer)"
    rows = [
        ("Main trials", str(survey.trials_per_participant)
         + (f" ({protocol.trials_per_cell} per cell)" if protocol.trials_per_cell else "")),
        ("Exposure", exposure),
    ]
    if protocol.timed:
        mask = f"{protocol.mask_ms} ms each" if protocol.mask_ms else "the last stays until the answer"
        rows.append(("Masks", f"{protocol.mask_count} ({mask})"))
    rows.append(("Blocks", f"{protocol.blocks}" + (f", {protocol.countdown_s} s countdown" if protocol.countdown_s else "")))
    if survey.kind == Survey.Kind.PAIRWISE:
        rows.append(("Pairs", protocol.pairs))
        rows.append(("Participants pick", "the fake image" if protocol.choose == "fake" else "the more realistic image"))
    else:
        rows.append(("Share of real images", f"{protocol.real_fraction:g}"))
    rows.append(("Feedback on main trials", "yes" if protocol.feedback else "no"))
    rows += [
        ("Training examples", str(protocol.training_examples)),
        ("Qualification", f"{protocol.qualification_trials} trials, {protocol.qualification_min_accuracy:.0%} needed"
         if protocol.qualification_trials else "none"),
        ("Practice trials", str(protocol.practice_trials)),
        ("Attention checks", _attention_summary(protocol) if protocol.attention_checks else "none"),
    ]
    return rows


def _attention_summary(protocol) -> str:
    exposure = protocol.attention_exposure()
    shown = f"{exposure} ms" if exposure else "unlimited"
    source = "blurred real images" if protocol.attention_source == "blur" else "an obviously bad pool"
    return (f"{protocol.attention_checks} from {source}, shown {shown}; "
            f"more than {protocol.max_attention_failures} failed excludes a participant")


@login_required
@require_POST
def survey_status(request, pk: int):
    survey = survey_for_researcher(user=request.user, pk=pk)
    action = request.POST.get("action")
    try:
        if action == "open":
            services.survey_open(survey=survey)
        elif action == "close":
            services.survey_close(survey=survey)
        else:
            messages.error(request, "Unknown action.")
    except services.SurveyError as error:
        messages.error(request, str(error))
    return redirect("surveys:survey_detail", pk=pk)


@login_required
@require_POST
def survey_prolific(request, pk: int):
    """Set the Prolific codes: Prolific shows them only once the study exists there, after the survey."""
    survey = survey_for_researcher(user=request.user, pk=pk)
    form = ProlificCodesForm(request.POST)
    if form.is_valid():
        crowd.survey_prolific_codes_set(survey=survey, completion_code=form.cleaned_data["prolific_completion_code"],
                                        screened_out_code=form.cleaned_data["prolific_screened_out_code"])
        messages.success(request, "Prolific codes saved.")
    else:
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
    return redirect("surveys:survey_detail", pk=pk)


def survey_link(survey: Survey) -> str:
    return reverse("surveys:welcome", kwargs={"slug": survey.slug})

