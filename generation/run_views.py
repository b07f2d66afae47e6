"""Researcher pages for training runs: start one, watch it (progress, losses, samples), cancel or resume
it, and sample pools from its checkpoints, one by one or matched by budget across runs."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from generation import run_services, selectors
from generation.forms import GeneratePoolForm, MatchedBudgetForm, TrainingRunForm
from generation.models import TrainingRun
from generation.services import PoolImportError


@login_required
@require_safe
def run_list(request):
    runs = selectors.run_list_for_researcher(user=request.user).select_related("created_by")
    return render(request, "generation/run_list.html", {"runs": runs})


@login_required
def run_create(request):
    from generation.training.options import FAMILY_DEFAULTS

    form = TrainingRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = run_services.training_run_create(
                family=form.cleaned_data["family"],
                options=form.training_options(),
                name=form.cleaned_data["name"],
                created_by=request.user,
            )
        except run_services.TrainingRunError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("generation:run_detail", pk=run.pk)
    return render(request, "generation/run_create.html", {"form": form, "defaults": FAMILY_DEFAULTS})


@login_required
@require_safe
def run_detail(request, pk: int):
    run = selectors.run_for_researcher(user=request.user, pk=pk)
    form = GeneratePoolForm(run=run, user=request.user)
    return render(request, "generation/run_detail.html", _detail_context(run, form))


def _detail_context(run: TrainingRun, generate_form: GeneratePoolForm) -> dict:
    return {
        "run": run,
        "checkpoints": selectors.run_checkpoints(run=run),
        "generate_form": generate_form,
        "status_url": reverse("generation:run_status", kwargs={"pk": run.pk}),
    }


@login_required
@require_safe
def run_status(request, pk: int):
    """What the run page polls while a run trains."""
    run = selectors.run_for_researcher(user=request.user, pk=pk)
    return JsonResponse(_status_json(run))


def _status_json(run: TrainingRun) -> dict:
    sample_url = ""
    if run.latest_sample:
        sample_url = reverse("generation:run_sample", kwargs={"pk": run.pk}) + f"?v={run.iteration}"
    return {
        "status": run.status,
        "status_display": run.get_status_display(),
        "active": run.is_active,
        "iteration": run.iteration,
        "iterations": run.iterations,
        "fraction": run.fraction_done,
        "images_seen": run.images_seen,
        "training_seconds": run.training_seconds,
        "its_per_s": run.its_per_s,
        "losses": run.losses,
        "notes": run.notes,
        "error": run.error,
        "cancel_requested": run.cancel_requested,
        "sample_url": sample_url,
        "checkpoints": [
            {"iteration": c.iteration, "training_seconds": c.training_seconds, "images_seen": c.images_seen}
            for c in selectors.run_checkpoints(run=run)
        ],
        "stats": selectors.run_stats(run=run),
    }


@login_required
@require_safe
def run_sample(request, pk: int):
    """The run's latest sample grid (researchers only: it is never part of a survey)."""
    run = selectors.run_for_researcher(user=request.user, pk=pk)
    path = selectors.run_file(run=run, relative=run.latest_sample)
    if path is None:
        raise Http404("No sample grid yet.")
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_POST
def run_cancel(request, pk: int):
    run = selectors.run_for_researcher(user=request.user, pk=pk)
    try:
        run_services.training_run_cancel(run=run)
    except run_services.TrainingRunError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, "Cancelling: the run stops at its next iteration and saves a checkpoint.")
    return redirect("generation:run_detail", pk=run.pk)


@login_required
@require_POST
def run_resume(request, pk: int):
    run = selectors.run_for_researcher(user=request.user, pk=pk)
    iterations = request.POST.get("iterations", "").strip()
    try:
        target = int(iterations) if iterations else None
        run_services.training_run_resume(run=run, iterations=target)
    except ValueError:
        messages.error(request, "The new target must be a whole number of iterations.")
    except run_services.TrainingRunError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, "Queued again: it continues from its last checkpoint.")
    return redirect("generation:run_detail", pk=run.pk)


@login_required
@require_POST
def run_generate(request, pk: int):
    run = selectors.run_for_researcher(user=request.user, pk=pk)
    form = GeneratePoolForm(request.POST, run=run, user=request.user)
    if form.is_valid():
        try:
            plan = run_services.sampling_plan(run=run, **form.plan_arguments())
            record = run_services.pool_generate_queue(
                plan=plan,
                images=form.cleaned_data["images"],
                name=form.cleaned_data["name"],
                seed=form.cleaned_data["seed"],
                created_by=request.user,
            )
        except PoolImportError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("generation:import_status", pk=record.pk)
    return render(request, "generation/run_detail.html", _detail_context(run, form), status=400)


@login_required
def matched_budget(request):
    form = MatchedBudgetForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            value, plans = run_services.matched_budget_plans(entries=form.entries(), by=data["by"], value=data["at"])
            records = [
                run_services.pool_generate_queue(
                    plan=plan,
                    images=data["images"],
                    name=run_services.matched_pool_name(plan, by=data["by"], value=value, prefix=data["prefix"]),
                    seed=data["seed"],
                    created_by=request.user,
                )
                for plan in plans
            ]
        except PoolImportError as exc:
            form.add_error(None, str(exc))
        else:
            messages.info(request, f"Sampling {len(records)} pools at equal {data['by']}.")
            return redirect("generation:pool_list")
    return render(request, "generation/matched_budget.html", {"form": form})
