"""Celery tasks of the generation app: thin wrappers that take ids and call a service.

Routing (settings.CELERY_TASK_ROUTES): training and sampling go to the `gpu` queue, imports to `default`.
Every task is acknowledged late and may be delivered twice (a worker that died, a Redis visibility
timeout): the services' claims make a second delivery do nothing, or take over what a dead worker left.
"""
from celery import shared_task
from django.conf import settings


@shared_task(bind=True)
def pool_import_task(self, pool_import_id: int) -> None:
    _pool_import(pool_import_id, redelivered=_redelivered(self))


@shared_task(bind=True)
def pool_generate_task(self, pool_import_id: int) -> None:
    """A pool sampled from a checkpoint: an import whose images a model makes, on a GPU worker."""
    _pool_import(pool_import_id, redelivered=_redelivered(self))


def _pool_import(pool_import_id: int, *, redelivered: bool) -> None:
    # Imported here, not at module level: services import this module to queue the tasks.
    from generation.models import PoolImport
    from generation.services import pool_import_run

    record = PoolImport.objects.filter(pk=pool_import_id).first()
    if record is not None:  # deleted by a researcher before a worker got to it
        pool_import_run(pool_import=record, redelivered=redelivered)


@shared_task(bind=True, max_retries=None)
def training_run_task(self, training_run_id: int) -> None:
    from generation.models import TrainingRun
    from generation.run_services import training_run_execute

    run = TrainingRun.objects.filter(pk=training_run_id).first()
    if run is None:
        return
    if self.request.is_eager:  # in-process: no time limit to stay under, no other worker to hand over to
        training_run_execute(run=run)
        return
    run = training_run_execute(run=run, slice_s=settings.EVALSITE_TRAINING_SLICE_S, requeue_if_interrupted=True)
    if run.status == TrainingRun.Status.RUNNING:
        # Another worker holds the run and reported progress lately. It may have died a moment ago (this
        # delivery may be its task, requeued): look again once a silent run counts as stale, and take it
        # over then; a run that finished meanwhile makes that look do nothing.
        raise self.retry(countdown=settings.EVALSITE_RUN_STALE_AFTER_S)


def _redelivered(task) -> bool:
    """True when the broker handed this task out before (its first worker died before acknowledging it)."""
    return bool((task.request.delivery_info or {}).get("redelivered"))
