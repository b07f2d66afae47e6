"""Training runs through the Django side: services, the Celery task, commands and researcher pages.

The networks are tiny (width 0.125, 16-pixel images, a handful of iterations) so that every run trains
for real in about a second on two CPU cores.
"""
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from generation import run_services, selectors
from generation.models import Checkpoint, ImagePool, PoolImport, TrainingRun
from generation.services import PoolImportError

pytestmark = pytest.mark.django_db

TINY = {"size": 16, "batch_size": 4, "arch": {"width": 0.125}, "log_every": 1, "sample_every": 2}


def _train(family="dcgan", *, folder, name="", iterations=6, checkpoint_every=3, created_by=None, **extra):
    options = {**TINY, "dataset": str(folder), "iterations": iterations, "checkpoint_every": checkpoint_every, **extra}
    run = run_services.training_run_create(family=family, options=options, name=name, queue=False, created_by=created_by)
    return run_services.training_run_execute(run=run)


@pytest.fixture
def dcgan_run(image_folder, researcher):
    # The researcher's own run: the run pages show a researcher only what they created (tests/security).
    return _train(folder=image_folder, name="dcgan tiny", created_by=researcher)


# --- creating and executing runs -----------------------------------------------------------------


def test_a_run_trains_to_the_end_and_records_its_checkpoints(dcgan_run):
    run = dcgan_run
    assert run.status == TrainingRun.Status.DONE, run.error
    assert (run.iteration, run.iterations) == (6, 6)
    assert run.images_seen > 0 and run.training_seconds > 0
    checkpoints = list(selectors.run_checkpoints(run=run))
    assert [c.iteration for c in checkpoints] == [3, 6]
    assert all(Path(c.path).is_file() for c in checkpoints)
    assert checkpoints[0].training_seconds <= checkpoints[1].training_seconds
    stats = selectors.run_stats(run=run)
    assert stats and stats[-1]["iteration"] == 6 and stats[-1]["losses"]
    assert selectors.run_file(run=run, relative=run.latest_sample) is not None


def test_invalid_options_are_refused_before_anything_is_recorded(image_folder):
    with pytest.raises(run_services.TrainingRunError, match="batch_size"):
        run_services.training_run_create(family="dcgan", options={"batch_size": 0}, queue=False)
    with pytest.raises(run_services.TrainingRunError, match="unknown"):
        run_services.training_run_create(family="dcgan", options={"learning_rate": 1}, queue=False)
    with pytest.raises(run_services.TrainingRunError, match="family"):
        run_services.training_run_create(family="vae", queue=False)
    assert not TrainingRun.objects.exists()


def test_a_run_name_is_unique(image_folder):
    run_services.training_run_create(family="dcgan", options={"dataset": str(image_folder)}, name="a", queue=False)
    with pytest.raises(run_services.TrainingRunError, match="already exists"):
        run_services.training_run_create(family="dcgan", options={"dataset": str(image_folder)}, name="a", queue=False)


def test_a_missing_dataset_fails_the_run_with_a_clear_error(tmp_path):
    run = _train(folder=tmp_path / "nowhere")
    assert run.status == TrainingRun.Status.FAILED
    assert "nowhere" in run.error and "Internal error" not in run.error


def test_the_task_trains_a_queued_run_once_the_transaction_commits(image_folder, django_capture_on_commit_callbacks):
    options = {**TINY, "dataset": str(image_folder), "iterations": 2, "checkpoint_every": 2}
    with django_capture_on_commit_callbacks(execute=True):
        run = run_services.training_run_create(family="dcgan", options=options)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.DONE
    assert run.checkpoints.count() == 1


def test_a_second_delivery_of_the_task_does_not_train_again(dcgan_run):
    from generation.tasks import training_run_task

    before = dcgan_run.training_seconds
    training_run_task.apply(args=(dcgan_run.pk,))
    dcgan_run.refresh_from_db()
    assert dcgan_run.training_seconds == before


def test_cancel_stops_with_a_checkpoint_and_resume_continues_from_it(image_folder):
    options = {**TINY, "dataset": str(image_folder), "iterations": 8, "checkpoint_every": 100}
    run = run_services.training_run_create(family="dcgan", options=options, queue=False)
    seen = []

    def stop() -> bool:  # as the terminal's Ctrl-C does: stop once two iterations are done
        return len(seen) >= 2

    run = run_services.training_run_execute(run=run, progress=lambda e: seen.append(e["iteration"]), stop=stop)
    assert run.status == TrainingRun.Status.CANCELLED
    stopped_at = run.iteration
    assert 0 < stopped_at < 8
    assert run.checkpoints.filter(iteration=stopped_at).exists()

    run = run_services.training_run_resume(run=run, queue=False)
    run = run_services.training_run_execute(run=run)
    assert run.status == TrainingRun.Status.DONE and run.iteration == 8
    assert run.checkpoints.last().training_seconds > run.checkpoints.get(iteration=stopped_at).training_seconds


def test_cancelling_a_queued_run_cancels_it_at_once_and_a_finished_run_cannot_be_cancelled(dcgan_run, image_folder):
    queued = run_services.training_run_create(family="dcgan", options={"dataset": str(image_folder)}, queue=False)
    assert run_services.training_run_cancel(run=queued).status == TrainingRun.Status.CANCELLED
    with pytest.raises(run_services.TrainingRunError, match="not queued or running"):
        run_services.training_run_cancel(run=dcgan_run)


def test_a_running_run_stops_when_its_cancel_flag_is_set(image_folder, monkeypatch):
    # The flag is read at most once a second; tiny runs finish sooner, so read it every iteration.
    monkeypatch.setattr(run_services, "CANCEL_POLL_S", 0.0)
    options = {**TINY, "dataset": str(image_folder), "iterations": 50, "checkpoint_every": 100}
    run = run_services.training_run_create(family="dcgan", options=options, queue=False)

    def cancel_from_outside(event):
        if event["iteration"] >= 1:
            run_services.training_run_cancel(run=TrainingRun.objects.get(pk=run.pk))

    run = run_services.training_run_execute(run=run, progress=cancel_from_outside)
    assert run.status == TrainingRun.Status.CANCELLED and run.iteration < 50


def test_a_finished_run_resumes_only_towards_a_higher_target(dcgan_run):
    with pytest.raises(run_services.TrainingRunError, match="higher target"):
        run_services.training_run_resume(run=dcgan_run, queue=False)
    run = run_services.training_run_resume(run=dcgan_run, iterations=9, queue=False)
    run = run_services.training_run_execute(run=run)
    assert run.status == TrainingRun.Status.DONE and run.iteration == 9
    assert run.options["iterations"] == 9


# --- pools from checkpoints ----------------------------------------------------------------------


def _pixels(pool_image) -> bytes:
    with pool_image.file.open("rb") as fh:
        return Image.open(io.BytesIO(fh.read())).convert("RGB").tobytes()


def test_a_pool_sampled_from_a_run_records_its_provenance_and_every_seed(dcgan_run):
    plan = run_services.sampling_plan(run=dcgan_run)
    report = run_services.pool_generate(plan=plan, images=5, seed=40)
    pool = report.pool
    latest = dcgan_run.checkpoints.last()
    assert pool.kind == ImagePool.Kind.GENERATED
    assert (pool.model_family, pool.iteration, pool.seed) == ("dcgan", 6, 40)
    assert pool.checkpoint == latest.path and pool.training_seconds == latest.training_seconds
    images = list(pool.images.order_by("seed"))
    assert not report.duplicates
    assert [image.seed for image in images] == [40, 41, 42, 43, 44]
    assert all((image.width, image.height) == (16, 16) for image in images)


def test_every_image_can_be_made_again_from_its_seed(dcgan_run):
    plan = run_services.sampling_plan(run=dcgan_run)
    first = run_services.pool_generate(plan=plan, images=4, seed=7, name="first").pool
    again = run_services.pool_generate(plan=plan, images=1, seed=9, name="again").pool
    by_seed = {image.seed: image for image in first.images.all()}
    assert _pixels(again.images.get()) == _pixels(by_seed[9])


def test_checkpoints_are_chosen_by_iteration_by_training_time_or_by_name(dcgan_run):
    first, last = list(dcgan_run.checkpoints.order_by("iteration"))
    assert run_services.sampling_plan(run=dcgan_run, at_iteration=5).checkpoint == first
    assert run_services.sampling_plan(run=dcgan_run, at_iteration=6).checkpoint == last
    hours = first.training_seconds / 3600
    assert run_services.sampling_plan(run=dcgan_run, at_hours=hours).checkpoint == first
    assert run_services.sampling_plan(run=dcgan_run, checkpoint=first).checkpoint == first
    with pytest.raises(PoolImportError, match="no checkpoint at or before iteration 2.*3 .*6 "):
        run_services.sampling_plan(run=dcgan_run, at_iteration=2)
    with pytest.raises(PoolImportError, match="at most one"):
        run_services.sampling_plan(run=dcgan_run, at_iteration=6, at_hours=1)


def test_dcgan_plus_srcnn_super_resolves_and_counts_both_training_times(dcgan_run, image_folder):
    srcnn = _train("srcnn", folder=image_folder, name="sr tiny", iterations=2, checkpoint_every=2, arch={})
    assert srcnn.status == TrainingRun.Status.DONE, srcnn.error
    plan = run_services.sampling_plan(run=dcgan_run, srcnn_run=srcnn)
    pool = run_services.pool_generate(plan=plan, images=2).pool
    assert pool.model_family == "dcgan+srcnn"
    assert {(image.width, image.height) for image in pool.images.all()} == {(32, 32)}
    expected = dcgan_run.checkpoints.last().training_seconds + srcnn.checkpoints.last().training_seconds
    assert pool.training_seconds == pytest.approx(expected)
    with pytest.raises(PoolImportError, match="not an SRCNN run"):
        run_services.sampling_plan(run=dcgan_run, srcnn_run=dcgan_run)


def test_matched_budget_makes_one_pool_per_run_at_the_common_budget(image_folder):
    short = _train(folder=image_folder, name="short", iterations=4, checkpoint_every=2)
    long = _train(folder=image_folder, name="long", iterations=6, checkpoint_every=3)
    value, plans = run_services.matched_budget_plans(entries=[(short, None), (long, None)], by="iterations")
    assert value == 4
    assert [plan.checkpoint.iteration for plan in plans] == [4, 3]
    # Equal training time: each run's latest checkpoint within the budget.
    budget_s = max(short.checkpoints.first().training_seconds, long.checkpoints.first().training_seconds)
    value, plans = run_services.matched_budget_plans(
        entries=[(short, None), (long, None)], by="hours", value=budget_s / 3600
    )
    for plan in plans:
        within = plan.run.checkpoints.filter(training_seconds__lte=budget_s)  # in seconds: no float round trip
        assert plan.checkpoint == within.order_by("-training_seconds").first()
    with pytest.raises(PoolImportError, match="1 of the runs"):
        run_services.matched_budget_plans(entries=[(short, None), (long, None)], by="iterations", value=2.5)


def test_a_queued_pool_sampling_job_makes_the_pool(dcgan_run, django_capture_on_commit_callbacks):
    plan = run_services.sampling_plan(run=dcgan_run)
    with django_capture_on_commit_callbacks(execute=True):
        record = run_services.pool_generate_queue(plan=plan, images=3, name="queued")
    record.refresh_from_db()
    assert record.status == PoolImport.Status.DONE, record.error
    assert record.pool.name == "queued" and record.pool.images.count() + len(record.report["duplicates"]) == 3
    assert record.files_done == 3


def test_a_sampling_job_whose_checkpoint_file_is_gone_fails_clearly(dcgan_run, django_capture_on_commit_callbacks):
    plan = run_services.sampling_plan(run=dcgan_run)
    Path(plan.checkpoint.path).unlink()
    with django_capture_on_commit_callbacks(execute=True):
        record = run_services.pool_generate_queue(plan=plan, images=2, name="gone")
    record.refresh_from_db()
    assert record.status == PoolImport.Status.FAILED
    assert "Cannot sample" in record.error and not ImagePool.objects.filter(name="gone").exists()


# --- commands ------------------------------------------------------------------------------------


def test_train_generate_and_matched_pools_commands(image_folder, capsys):
    tiny = ["--size", "16", "--batch-size", "4", "--width", "0.125", "--iterations", "4", "--checkpoint-every", "2"]
    call_command("train", "--model", "dcgan", "--dataset", str(image_folder), "--name", "cli", *tiny)
    out = capsys.readouterr()
    assert "Done: 4 iterations" in out.out and "manage.py generate" in out.out
    assert "4/4 it" in out.err  # the progress bar's last line
    call_command("generate", "cli", "--images", "3", "--at-iteration", "3", "--seed", "5", "--name", "cli pool")
    pool = ImagePool.objects.get(name="cli pool")
    assert (pool.iteration, pool.seed) == (2, 5)
    call_command("train", "--model", "dcgan", "--dataset", str(image_folder), "--name", "cli2", *tiny)
    call_command("matched_pools", "cli", "cli2", "--by", "iterations", "--images", "2", "--prefix", "m ")
    assert ImagePool.objects.filter(name__startswith="m cli").count() == 2
    call_command("runs", "--checkpoints")
    assert "cli2" in capsys.readouterr().out


def test_command_errors_are_clear(image_folder):
    with pytest.raises(CommandError, match="--model"):
        call_command("train")
    with pytest.raises(CommandError, match="No training run"):
        call_command("generate", "nope", "--images", "1")
    with pytest.raises(CommandError, match="KEY=VALUE"):
        call_command("train", "--model", "dcgan", "--option", "oops")


# --- researcher pages -----------------------------------------------------------------------------


def test_run_pages_need_a_login(client, dcgan_run):
    for name in ("run_detail", "run_status", "run_sample"):
        response = client.get(reverse(f"generation:{name}", kwargs={"pk": dcgan_run.pk}))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_run_page_status_json_and_sample_grid(researcher_client, dcgan_run):
    page = researcher_client.get(reverse("generation:run_detail", kwargs={"pk": dcgan_run.pk}))
    assert page.status_code == 200 and b"dcgan tiny" in page.content
    status = researcher_client.get(reverse("generation:run_status", kwargs={"pk": dcgan_run.pk})).json()
    assert status["status"] == "done" and status["iteration"] == 6
    assert [c["iteration"] for c in status["checkpoints"]] == [3, 6] and status["stats"]
    grid = researcher_client.get(status["sample_url"])
    assert grid.status_code == 200 and grid["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(grid.streaming_content))).size[0] >= 16


def test_the_new_run_form_starts_a_run_with_only_what_was_filled_in(researcher_client, image_folder):
    response = researcher_client.post(
        reverse("generation:run_create"),
        {"family": "dcgan", "dataset_folder": str(image_folder), "size": 16, "iterations": 2,
         "batch_size": 4, "width": 0.125, "betas_g": "0.5, 0.9", "checkpoint_every": 2},
    )
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("generation:run_detail", kwargs={"pk": run.pk})
    assert run.options["betas_g"] == [0.5, 0.9] and run.options["lr_d"] == 2e-4  # default kept
    assert run.name == f"dcgan on {image_folder}"


def test_the_new_run_form_explains_bad_input(researcher_client):
    response = researcher_client.post(reverse("generation:run_create"), {"family": "dcgan", "betas_g": "0.5"})
    assert response.status_code == 200 and b"Two numbers separated by a comma" in response.content
    assert not TrainingRun.objects.exists()


def test_the_generate_form_queues_a_pool_and_shows_its_status(researcher_client, dcgan_run, django_capture_on_commit_callbacks):
    url = reverse("generation:run_generate", kwargs={"pk": dcgan_run.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = researcher_client.post(url, {"images": 2, "which": "iteration", "at_iteration": 4, "seed": 0})
    record = PoolImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("generation:import_status", kwargs={"pk": record.pk})
    record.refresh_from_db()
    assert record.pool.iteration == 3
    bad = researcher_client.post(url, {"images": 2, "which": "iteration", "at_iteration": 1, "seed": 0})
    assert bad.status_code == 400 and b"no checkpoint at or before iteration 1" in bad.content


def test_the_matched_budget_form(researcher_client, researcher, image_folder, django_capture_on_commit_callbacks):
    a = _train(folder=image_folder, name="a", iterations=4, checkpoint_every=2, created_by=researcher)
    b = _train(folder=image_folder, name="b", iterations=2, checkpoint_every=2, created_by=researcher)
    with django_capture_on_commit_callbacks(execute=True):
        response = researcher_client.post(
            reverse("generation:matched_budget"),
            {"by": "iterations", "images": 2, "seed": 0, "run_0": a.pk, "run_1": b.pk},
        )
    assert response.status_code == 302
    assert sorted(ImagePool.objects.values_list("iteration", flat=True)) == [2, 2]
    lonely = researcher_client.post(reverse("generation:matched_budget"), {"by": "hours", "images": 2, "seed": 0, "run_0": a.pk})
    assert b"at least two runs" in lonely.content


def test_cancel_and_resume_buttons(researcher_client, dcgan_run):
    response = researcher_client.post(reverse("generation:run_cancel", kwargs={"pk": dcgan_run.pk}), follow=True)
    assert b"not queued or running" in response.content
    response = researcher_client.post(
        reverse("generation:run_resume", kwargs={"pk": dcgan_run.pk}), {"iterations": "7"}, follow=True
    )
    dcgan_run.refresh_from_db()
    # Tests run queued tasks synchronously once the transaction commits; here it never commits.
    assert dcgan_run.status == TrainingRun.Status.QUEUED and dcgan_run.iterations == 7


@pytest.mark.django_db(transaction=True)
def test_the_embedded_default_trains_in_a_background_thread(settings, image_folder):
    """With in-process Celery the page that queues a run must return at once: the run trains in a thread.

    The test waits by joining the thread, not by polling the database: the SQLite test database is
    shared in-memory, where a concurrent read makes the other thread's write fail at once instead of
    waiting as a file database does."""
    import threading

    settings.EVALSITE_BACKGROUND_THREADS = True
    options = {**TINY, "dataset": str(image_folder), "iterations": 3, "checkpoint_every": 3}
    run = run_services.training_run_create(family="dcgan", options=options)  # autocommit: queued at once
    workers = [t for t in threading.enumerate() if t.name == "task:generation.tasks.training_run_task"]
    assert len(workers) == 1 and workers[0].is_alive()  # returned while the run trains
    workers[0].join(timeout=120)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.DONE and run.checkpoints.count() == 1


def _mark_running(run, *, silent_for_s: float, iterations: int) -> None:
    """As a worker that died mid-run leaves it: still 'running', no progress for ``silent_for_s``."""
    from datetime import timedelta

    from django.utils import timezone

    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING,
        iterations=iterations,
        options={**run.options, "iterations": iterations},
        updated_at=timezone.now() - timedelta(seconds=silent_for_s),
    )


def test_a_redelivered_task_takes_over_a_run_whose_worker_died_and_resumes_it(settings, dcgan_run):
    from generation.tasks import training_run_task

    settings.EVALSITE_RUN_STALE_AFTER_S = 60
    _mark_running(dcgan_run, silent_for_s=5, iterations=9)
    training_run_task.apply(args=(dcgan_run.pk,))  # its worker may still be alive: left alone
    assert TrainingRun.objects.get(pk=dcgan_run.pk).iteration == 6
    _mark_running(dcgan_run, silent_for_s=120, iterations=9)
    training_run_task.apply(args=(dcgan_run.pk,))
    run = TrainingRun.objects.get(pk=dcgan_run.pk)
    assert run.status == TrainingRun.Status.DONE and run.iteration == 9
    assert run.checkpoints.filter(iteration=9).exists()


def test_a_run_whose_worker_died_can_be_cancelled_then_resumed(settings, dcgan_run):
    settings.EVALSITE_RUN_STALE_AFTER_S = 60
    _mark_running(dcgan_run, silent_for_s=120, iterations=9)
    run = run_services.training_run_cancel(run=dcgan_run)
    assert run.status == TrainingRun.Status.CANCELLED and run.error == run_services.LOST_WORKER
    run = run_services.training_run_execute(run=run_services.training_run_resume(run=run, queue=False))
    assert run.status == TrainingRun.Status.DONE and run.iteration == 9


def test_a_budget_read_off_a_checkpoint_in_hours_finds_that_checkpoint(dcgan_run):
    """Hours back to seconds loses the last bits of a float: the checkpoint must still count as within."""
    for checkpoint in dcgan_run.checkpoints.all():
        for seconds in (checkpoint.training_seconds, 0.0291, 0.11):  # these two come back smaller
            Checkpoint.objects.filter(pk=checkpoint.pk).update(training_seconds=seconds)
            assert run_services.sampling_plan(run=dcgan_run, at_hours=seconds / 3600).checkpoint == checkpoint
