"""Real Celery worker processes consuming real tasks from Redis, on the PostgreSQL test database.

`make test` runs these in its PostgreSQL pass. They also need Redis (127.0.0.1:6379, or
EVALSITE_TEST_REDIS_URL): without it they skip, saying so, except under CI=true, where they fail.
Each test run takes a Redis database of its own (15 down to 1), flushed before and after.

The workers are `celery -A evalsite worker` subprocesses reading the test database through DATABASE_URL;
the tests use a transactional database so that what they write is committed and the workers see it.
A short visibility timeout (EVALSITE_VISIBILITY_TIMEOUT_S) makes Redis hand out a dead worker's task
again within seconds instead of hours, and a short EVALSITE_RUN_STALE_AFTER_S lets the next worker take
its run over.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from generation import run_services, services
from generation.models import Checkpoint, ImagePool, PoolImport, TrainingRun
from generation.tasks import pool_import_task
from generation.training.checkpoints import checkpoint_name, list_checkpoints
from tests.conftest import in_ci
from tests.generation.helpers import zip_bytes
from tests.images import image_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("EVALSITE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
REPO = Path(__file__).resolve().parents[2]
# Marks a Redis database as one these tests may take (and flush); the lock says a test run holds it now.
DB_MARKER, DB_LOCK = "evalsite-tests:database", "evalsite-tests:lock"
VISIBILITY_TIMEOUT_S, STALE_AFTER_S = 4, 3
READY_TIMEOUT_S, TASK_TIMEOUT_S = 120, 300
# Tiny networks, no sample grids: a run's time goes into training steps and checkpoints.
TINY = {"size": 16, "batch_size": 4, "arch": {"width": 0.125}, "log_every": 10, "sample_every": 100_000}


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (make test does)")


@pytest.fixture(scope="module")
def redis_db():
    """(broker URL, client) of a Redis database this test run holds alone."""
    import redis

    try:
        redis.Redis.from_url(f"{REDIS_URL}/0", socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        reason = f"needs Redis at {REDIS_URL} ({type(error).__name__}: {error})"
        if in_ci():
            pytest.fail(f"{reason}; under CI it must run")
        pytest.skip(reason)
    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{REDIS_URL}/{number}")
        free = client.dbsize() == 0 or client.exists(DB_MARKER)
        if free and client.set(DB_LOCK, os.getpid(), nx=True, ex=3600):
            client.flushdb()
            client.set(DB_MARKER, 1)
            client.set(DB_LOCK, os.getpid(), ex=3600)
            yield f"{REDIS_URL}/{number}", client
            client.flushdb()
            client.set(DB_MARKER, 1)
            return
    pytest.fail("every Redis database 1-15 is in use (by other data, or by other test runs)")


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    """Uploads are read by the workers: the test process and the workers share one media folder."""
    return tmp_path_factory.mktemp("worker-media")


@pytest.fixture
def producer(settings, redis_db, media_root):
    """This process queues tasks on Redis, as the web process of a deployment does."""
    from evalsite.celery import app

    redis_db[1].delete("default", "gpu", "unacked", "unacked_index")  # what an earlier test left queued
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.MEDIA_ROOT = media_root
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=redis_db[0], task_always_eager=False)
    _drop_broker_connections(app)
    yield redis_db[1]
    app.conf.update(saved)
    _drop_broker_connections(app)


def _drop_broker_connections(app) -> None:
    # The app keeps its pools of connections to the broker it first used; it must pick them anew.
    app._pool = None
    app.amqp._producer_pool = None


class Worker:
    """One `celery -A evalsite worker` process (with its pool child) in a process group of its own."""

    def __init__(self, name: str, queues: str, env: dict, log_dir: Path, notes: list[str]):
        self.name, self.log_path = name, log_dir / f"{name}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "evalsite", "worker", "--hostname", f"{name}@%h",
            "--queues", queues, "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        started = time.monotonic()
        _wait_for(self.ready, what=f"worker {name} to be ready", timeout=READY_TIMEOUT_S, worker=self)
        notes.append(f"worker {name} (-Q {queues}) ready in {time.monotonic() - started:.1f} s")

    def ready(self) -> bool:
        return " ready." in self.log()  # Celery's "<name>@<host> ready." once it consumes

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """As when its machine dies: the worker and its pool child at once, no shutdown of any kind."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: the running task ends first
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def report(request, capsys):
    """Prints how long the test took (and its notes), even when pytest captures output."""
    notes: list[str] = []
    started = time.monotonic()
    yield notes
    with capsys.disabled():
        print(f"\n  {request.node.name}: {time.monotonic() - started:.1f} s ({'; '.join(notes)})")


@pytest.fixture
def start_worker(report, redis_db, media_root, tmp_path):
    db = connection.settings_dict  # the test database (test_<name>) pytest-django made
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": redis_db[0],
        "EVALSITE_TASKS_EAGER": "false",
        "EVALSITE_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "EVALSITE_RUN_STALE_AFTER_S": str(STALE_AFTER_S),
        "EVALSITE_MEDIA_ROOT": str(media_root),
        "PYTHONUNBUFFERED": "1",
        # Networks this small train several times faster on one thread than contending for a shared CPU.
        "OMP_NUM_THREADS": "1",
    }
    started: list[Worker] = []

    def start(name: str, queues: str) -> Worker:
        started.append(Worker(name, queues, env, tmp_path, report))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def _wait_for(condition, *, what: str, timeout: float = TASK_TIMEOUT_S, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        if worker is not None and worker.process.poll() is not None:
            pytest.fail(f"worker {worker.name} exited while waiting for {what}:\n{worker.log()[-3000:]}")
        time.sleep(0.1)
    log = f", its log ends:\n{worker.log()[-3000:]}" if worker is not None else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}{log}")


def _queue_import(name: str, *, first_seed: int) -> PoolImport:
    archive = zip_bytes({f"{name}-{i}.png": image_bytes(seed=first_seed + i) for i in range(3)})
    return services.pool_import_queue(
        pool_name=name, kind=ImagePool.Kind.IMPORTED, skip_bad=False, archive=ContentFile(archive, name="up.zip")
    )


def _finished_import(record: PoolImport) -> PoolImport | None:
    record.refresh_from_db()
    return record if record.status in (PoolImport.Status.DONE, PoolImport.Status.FAILED) else None


def _finished_run(run: TrainingRun) -> TrainingRun | None:
    return TrainingRun.objects.filter(pk=run.pk, finished_at__isnull=False).first()


def _training(run: TrainingRun) -> bool:
    return TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING, iteration__gt=0).exists()


def _queued_tasks(client, queue: str) -> list[tuple[str, str]]:
    """(task name, its arguments) of the messages waiting in ``queue``, first queued first."""
    messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]  # pushed left, popped right
    return [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages]


def _create_run(folder: Path, **options) -> TrainingRun:
    return run_services.training_run_create(family="dcgan", options={**TINY, "dataset": str(folder), **options})


def test_imports_go_to_the_default_queue_training_and_sampling_to_gpu(producer, start_worker, image_folder):
    worker = start_worker("cpu", queues="default")
    run = _create_run(image_folder, iterations=2, checkpoint_every=2)
    sampling = _queue_sampling(run)
    record = _queue_import("uploaded", first_seed=0)
    record = _wait_for(lambda: _finished_import(record), what="the import", worker=worker)
    assert record.status == PoolImport.Status.DONE, record.error
    assert record.pool.images.count() == 3

    # A second delivery of the finished import does nothing. The worker takes one task at a time, in
    # order: once the import queued after it is done, the second delivery has been handled.
    pool_import_task.delay(record.pk)
    later = _queue_import("later", first_seed=10)
    later = _wait_for(lambda: _finished_import(later), what="the later import", worker=worker)
    assert later.status == PoolImport.Status.DONE, later.error
    assert PoolImport.objects.get(pk=record.pk).finished_at == record.finished_at
    assert ImagePool.objects.count() == 2

    # The worker that consumes only `default` took neither the training nor the sampling, both queued
    # before the imports: they wait on `gpu` (the other tests' workers consume `gpu`).
    assert TrainingRun.objects.get(pk=run.pk).status == TrainingRun.Status.QUEUED
    assert PoolImport.objects.get(pk=sampling.pk).status == PoolImport.Status.QUEUED
    assert _queued_tasks(producer, "gpu") == [
        ("generation.tasks.training_run_task", f"({run.pk},)"),
        ("generation.tasks.pool_generate_task", f"({sampling.pk},)"),
    ]


def _queue_sampling(run: TrainingRun) -> PoolImport:
    # Only queued, never sampled here: a checkpoint row is all the job needs to be recorded.
    checkpoint = Checkpoint.objects.create(run=run, iteration=2, images_seen=8, training_seconds=1.0, path="x.pt")
    plan = run_services.sampling_plan(run=run, checkpoint=checkpoint)
    return run_services.pool_generate_queue(plan=plan, images=2, name="sampled")


def test_a_run_whose_worker_is_killed_resumes_on_another_from_its_last_checkpoint(
    producer, start_worker, image_folder, report
):
    iterations, every = 100, 10
    first = start_worker("gpu-1", queues="default,gpu")
    run = _create_run(image_folder, iterations=iterations, checkpoint_every=every)
    _wait_for(lambda: run.checkpoints.exists(), what="the first checkpoint", worker=first)
    first.kill()

    killed = TrainingRun.objects.get(pk=run.pk)
    assert killed.status == TrainingRun.Status.RUNNING and 0 < killed.iteration < iterations
    assert killed.losses  # progress written by the worker, read here
    kept = {c.iteration: (c.training_seconds, Path(c.path).stat().st_mtime_ns) for c in killed.checkpoints.all()}

    killed_at = time.monotonic()
    second = start_worker("gpu-2", queues="default,gpu")
    run = _wait_for(lambda: _finished_run(run), what="the resumed run", worker=second)
    report.append(f"killed at iteration {killed.iteration}, done {time.monotonic() - killed_at:.1f} s later")
    assert run.status == TrainingRun.Status.DONE, run.error
    assert run.iteration == iterations and run.images_seen == iterations * TINY["batch_size"]
    checkpoints = list(run.checkpoints.order_by("iteration"))
    assert [c.iteration for c in checkpoints] == list(range(every, iterations + 1, every))
    files = [p.name for p in list_checkpoints(Path(run.run_dir) / "checkpoints")]
    assert files == [checkpoint_name(c.iteration) for c in checkpoints]  # one file per iteration, no strays
    # Resumed, not restarted: the checkpoints saved before the kill were neither recomputed nor rewritten.
    for checkpoint in checkpoints:
        if checkpoint.iteration in kept:
            seconds, mtime = kept[checkpoint.iteration]
            assert checkpoint.training_seconds == seconds
            assert Path(checkpoint.path).stat().st_mtime_ns == mtime
    assert max(kept) < iterations and run.training_seconds > kept[max(kept)][0]


def test_cancelling_in_this_process_stops_the_run_the_worker_trains(producer, start_worker, image_folder, report):
    worker = start_worker("gpu", queues="gpu")
    run = _create_run(image_folder, iterations=100_000, checkpoint_every=100_000)
    _wait_for(lambda: _training(run), what="training to start", worker=worker)

    run_services.training_run_cancel(run=run)  # what the cancel button calls
    cancelled_at = time.monotonic()
    run = _wait_for(lambda: _finished_run(run), what="the stop", worker=worker)
    report.append(f"stopped {time.monotonic() - cancelled_at:.1f} s after the cancel")
    assert run.status == TrainingRun.Status.CANCELLED and run.error == ""
    assert 0 < run.iteration < run.iterations
    checkpoint = run.checkpoints.get()  # saved by the worker where it stopped: resuming continues from it
    assert checkpoint.iteration == run.iteration and Path(checkpoint.path).is_file()
