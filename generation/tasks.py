"""Celery tasks of the generation app: thin wrappers that take ids and call a service."""
from celery import shared_task


@shared_task
def pool_import_task(pool_import_id: int) -> None:
    # Imported here, not at module level: services import this module to queue the task.
    from generation.models import PoolImport
    from generation.services import pool_import_run

    record = PoolImport.objects.filter(pk=pool_import_id).first()
    if record is not None:  # deleted by a researcher before a worker got to it
        pool_import_run(pool_import=record)


@shared_task(acks_late=True)
def training_run_task(training_run_id: int) -> None:
    from generation.models import TrainingRun
    from generation.run_services import training_run_execute

    run = TrainingRun.objects.filter(pk=training_run_id).first()
    if run is not None:
        training_run_execute(run=run)
