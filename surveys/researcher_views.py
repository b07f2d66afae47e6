"""Researcher pages for surveys: dashboard, create, detail, open / close. All behind login."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from generation.models import ImagePool, PoolImport

from . import services
from .forms import SurveyCreateForm
from .models import Survey
from .selectors import survey_list_with_counts, survey_participant_counts, survey_size_warning


@login_required
def dashboard(request):
    return render(request, "surveys/researcher/dashboard.html", {
        "surveys": survey_list_with_counts(),
        "pool_count": ImagePool.objects.count(),
        "recent_imports": PoolImport.objects.all()[:5],
    })


@login_required
def survey_create(request):
    form = SurveyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        texts = {field: data[field] for field in SurveyCreateForm.Meta.fields if field not in ("name", "trials_per_participant")}
        try:
            survey = services.survey_create(
                name=data["name"], pools=data["pools"], trials_per_participant=data["trials_per_participant"],
                created_by=request.user, **texts,
            )
            if data["open_now"]:
                services.survey_open(survey=survey)
        except services.SurveyError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Survey “{survey.name}” created.")
            if warning := survey_size_warning(survey=survey):
                messages.warning(request, warning)
            return redirect("surveys:survey_detail", pk=survey.pk)
    return render(request, "surveys/researcher/survey_create.html", {"form": form})


@login_required
def survey_detail(request, pk: int):
    survey = get_object_or_404(Survey, pk=pk)
    return render(request, "surveys/researcher/survey_detail.html", {
        "survey": survey,
        "arms": survey.arms.select_related("pool"),
        "counts": survey_participant_counts(survey=survey),
        "size_warning": survey_size_warning(survey=survey),
        "link": request.build_absolute_uri(survey_link(survey)),
    })


@login_required
@require_POST
def survey_status(request, pk: int):
    survey = get_object_or_404(Survey, pk=pk)
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


def survey_link(survey: Survey) -> str:
    return reverse("surveys:welcome", kwargs={"slug": survey.slug})
