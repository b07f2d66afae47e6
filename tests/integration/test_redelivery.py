"""What a task does when a worker dies, shuts down, runs out of time, or gets a task twice.

Run in-process (SQLite or PostgreSQL), each scenario set up as the database looks when it happens; the
real worker processes and Redis are in test_worker.py. A task is run as a worker runs it (``_deliver``:
not eager, with the broker's ``redelivered`` flag) or, for the in-process default, with ``apply``.
"""
from datetime import timedelta

import pytest
from celery.exceptions import Retry, SystemTerminate
from django.core.files.base import ContentFile
from django.utils import timezone

from generation import run_services, services
from generation.models import ImagePool, PoolImport, TrainingRun
from generation.tasks import pool_import_task, training_run_task
from tests.generation.helpers import zip_bytes
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

TINY = {"size": 16, "batch_size": 4, "arch": {"width": 0.125}, "log_every": 1, "sample_every": 100}


def _run(folder, *, iterations: int, checkpoint_every: int = 100) -> TrainingRun:
    options = {**TINY, "dataset": str(folder), "iterations": iterations, "checkpoint_every": checkpoint_every}
    return run_services.training_run_create(family="dcgan", options=options, queue=False)


def _deliver(task, *args, redelivered: bool = False):
    """Run ``task`` as a worker process does (not eager), as delivered by the broker."""
    task.push_request(delivery_info={"redelivered": redelivered}, is_eager=False)
    try:
        return task.run(*args)
    finally:
        task.pop_request()


def _mark_running(run: TrainingRun, *, silent_for_s: float, iterations: int | None = None) -> None:
    """As a worker leaves a run: 'running', its last progress ``silent_for_s`` ago."""
    iterations = iterations or run.iterations
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING,
        iterations=iterations,
        options={**run.options, "iterations": iterations},
        updated_at=timezone.now() - timedelta(seconds=silent_for_s),
    )


# --- training ------------------------------------------------------------------------------------


def test_a_task_whose_time_is_up_stops_with_a_checkpoint_and_queues_its_continuation(
    image_folder, django_capture_on_commit_callbacks
):
    run = _run(image_folder, iterations=4)
    with django_capture_on_commit_callbacks() as queued:
        run = run_services.training_run_execute(run=run, slice_s=0)  # up after the first step
    assert (run.status, run.iteration, run.finished_at) == (TrainingRun.Status.QUEUED, 1, None)
    assert [c.iteration for c in run.checkpoints.all()] == [1]
    assert len(queued) == 1

    queued[0]()  # the continuation it queued: in-process here, so it trains to the end in one go
    run.refresh_from_db()
    assert (run.status, run.iteration) == (TrainingRun.Status.DONE, 4)
    assert [c.iteration for c in run.checkpoints.all()] == [1, 4]


def test_a_run_interrupted_by_its_worker_shutting_down_is_left_for_the_task_handed_out_again(image_folder):
    run = _run(image_folder, iterations=5)

    def shut_down(event):
        if event["iteration"] >= 2:
            raise SystemTerminate()  # a cold shutdown of a solo-pool worker, mid-training

    with pytest.raises(SystemTerminate):
        run_services.training_run_execute(run=run, progress=shut_down, requeue_if_interrupted=True)
    run.refresh_from_db()
    assert (run.status, run.error, run.finished_at) == (TrainingRun.Status.QUEUED, "", None)

    training_run_task.apply(args=(run.pk,))
    run.refresh_from_db()
    assert (run.status, run.iteration) == (TrainingRun.Status.DONE, 5)


def test_a_worker_whose_run_was_taken_over_stops_and_writes_nothing_more(image_folder):
    run = _run(image_folder, iterations=6)
    taken_over = {}

    def another_worker_claims_it(event):
        if not taken_over and event["iteration"] >= 1:
            # What a second worker's claim writes once this one counts as silent; it trains from here on.
            TrainingRun.objects.filter(pk=run.pk).update(started_at=timezone.now(), updated_at=timezone.now())
            taken_over.update(TrainingRun.objects.filter(pk=run.pk).values("iteration", "updated_at").get())

    run_services.training_run_execute(run=run, progress=another_worker_claims_it)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING and run.finished_at is None  # the other worker's
    assert (run.iteration, run.updated_at) == (taken_over["iteration"], taken_over["updated_at"])
    assert not run.checkpoints.exists()


def test_a_checkpoint_saved_but_not_recorded_when_the_worker_died_is_recorded_on_takeover(settings, image_folder):
    settings.EVALSITE_RUN_STALE_AFTER_S = 60
    run = run_services.training_run_execute(run=_run(image_folder, iterations=6, checkpoint_every=3))
    run.checkpoints.filter(iteration=6).delete()  # it died between writing the file and the row
    _mark_running(run, silent_for_s=120, iterations=9)

    training_run_task.apply(args=(run.pk,))
    run.refresh_from_db()
    assert (run.status, run.iteration) == (TrainingRun.Status.DONE, 9)
    assert [c.iteration for c in run.checkpoints.all()] == [3, 6, 9]


def test_a_task_for_a_run_a_live_worker_holds_looks_again_once_it_would_be_stale(settings, image_folder):
    settings.EVALSITE_RUN_STALE_AFTER_S = 60
    run = _run(image_folder, iterations=3)
    _mark_running(run, silent_for_s=5)
    with pytest.raises(Retry):  # it may be this task's worker, dead a moment ago: look again later
        _deliver(training_run_task, run.pk, redelivered=True)
    assert TrainingRun.objects.get(pk=run.pk).iteration == 0

    _mark_running(run, silent_for_s=120)  # by the time it looks again, that worker is silent: it died
    _deliver(training_run_task, run.pk, redelivered=True)
    run.refresh_from_db()
    assert (run.status, run.iteration) == (TrainingRun.Status.DONE, 3)


def test_a_task_for_a_finished_run_does_nothing(image_folder):
    run = run_services.training_run_execute(run=_run(image_folder, iterations=2))
    before = (run.training_seconds, run.finished_at)
    _deliver(training_run_task, run.pk, redelivered=True)  # returns: no retry for a run that ended
    run.refresh_from_db()
    assert (run.training_seconds, run.finished_at) == before


# --- imports -------------------------------------------------------------------------------------


def _recorded_import(name: str, *, status=PoolImport.Status.QUEUED, error: str = "") -> PoolImport:
    record = PoolImport(pool_name=name, status=status, error=error)
    images = {"a.png": image_bytes(seed=1), "b.png": image_bytes(seed=2)}
    record.upload.save("upload.zip", ContentFile(zip_bytes(images)))
    return record


def test_a_second_delivery_of_a_finished_import_does_nothing():
    record = _recorded_import("cats")
    _deliver(pool_import_task, record.pk)
    record.refresh_from_db()
    assert record.status == PoolImport.Status.DONE
    _deliver(pool_import_task, record.pk, redelivered=True)
    assert PoolImport.objects.get(pk=record.pk).finished_at == record.finished_at
    assert ImagePool.objects.count() == 1


def test_an_import_left_running_by_a_dead_worker_starts_again_when_its_task_is_redelivered():
    record = _recorded_import("cats", status=PoolImport.Status.RUNNING)
    _deliver(pool_import_task, record.pk)  # a copy not handed out before: its worker may be importing it
    assert PoolImport.objects.get(pk=record.pk).status == PoolImport.Status.RUNNING

    _deliver(pool_import_task, record.pk, redelivered=True)
    record.refresh_from_db()
    assert (record.status, record.error) == (PoolImport.Status.DONE, "")
    assert record.pool.images.count() == 2 and not record.upload


def test_an_import_two_workers_died_on_fails_instead_of_a_third_try():
    record = _recorded_import("cats", status=PoolImport.Status.RUNNING, error=services.WORKER_DIED)
    _deliver(pool_import_task, record.pk, redelivered=True)
    record.refresh_from_db()
    assert (record.status, record.error) == (PoolImport.Status.FAILED, services.WORKERS_DIED)
    assert not record.upload and record.finished_at is not None
    assert not ImagePool.objects.exists()
