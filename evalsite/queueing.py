"""Queue a Celery task once the current transaction commits; long in-process tasks go to a thread."""
import logging
import threading

from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args) -> None:
    """``task.delay(*args)`` after commit. In the embedded default (eager Celery) a task that takes
    minutes would hold the request that queued it, so it runs in a background thread instead."""
    transaction.on_commit(lambda: _enqueue(task, args))


def _enqueue(task, args: tuple) -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER and settings.EVALSITE_BACKGROUND_THREADS:
        thread = threading.Thread(target=_run_in_thread, args=(task, args), name=f"task:{task.name}", daemon=True)
        thread.start()
    else:
        task.delay(*args)


def _run_in_thread(task, args: tuple) -> None:
    try:
        task.apply(args=args, throw=True)
    except Exception:
        # The services record failures on their own rows; this is for the operator's log.
        logger.exception("background task %s%r failed", task.name, args)
    finally:
        connections.close_all()  # this thread's connections would otherwise stay open until exit
