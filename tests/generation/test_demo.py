"""The demo command: real photos, the shipped demo checkpoints registered as runs, sampled pools, a survey."""
import pytest
from django.core.management import call_command

from generation.demo_models import DEMO_MODELS
from generation.models import ImagePool, TrainingRun
from surveys.models import Survey

pytestmark = pytest.mark.django_db


def test_every_demo_checkpoint_is_shipped_and_small():
    sizes = {model.key: (model.folder / "checkpoint.pt").stat().st_size for model in DEMO_MODELS}
    assert sum(sizes.values()) < 8 * 1024 * 1024, sizes


def test_the_demo_fills_pools_from_the_shipped_checkpoints(capsys):
    call_command("demo", "--images", "6", "--password", "pw")
    runs = TrainingRun.objects.all()
    assert {run.family for run in runs} == {"dcgan", "progressive", "srcnn", "simgan", "crn"}
    assert all(run.status == TrainingRun.Status.DONE and run.checkpoints.count() == 1 for run in runs)
    survey = Survey.objects.get(kind="pairwise")
    timed = Survey.objects.get(kind="real_fake")
    assert timed.status == Survey.Status.OPEN and timed.get_protocol().staircase is not None
    assert timed.arms.count() == 3 and timed.trials_per_participant == 30
    arms = {arm.pool.name: arm.pool for arm in survey.arms.select_related("pool")}
    assert len(arms) == 3 and survey.status == Survey.Status.OPEN
    kinds = sorted(pool.kind for pool in arms.values())
    assert kinds == ["generated", "generated", "real"]
    for pool in arms.values():
        assert pool.images.count() == 6
        assert {(image.width, image.height) for image in pool.images.all()} == {(32, 32)}
    dcgan = ImagePool.objects.get(model_family="dcgan")
    assert dcgan.iteration and dcgan.training_seconds > 0 and all(i.seed is not None for i in dcgan.images.all())
    srcnn = ImagePool.objects.get(model_family="dcgan+srcnn")
    assert {(image.width, image.height) for image in srcnn.images.all()} == {(64, 64)}
    # Idempotent: a second run reuses everything.
    call_command("demo", "--images", "6", "--password", "pw")
    assert Survey.objects.count() == 2 and TrainingRun.objects.count() == len(DEMO_MODELS)
    assert "Take the survey" in capsys.readouterr().out


def test_a_demo_run_can_be_sampled_again_but_not_trained_further():
    from generation import run_services

    call_command("demo", "--images", "2", "--password", "pw")
    run = TrainingRun.objects.get(family="simgan")
    pool = run_services.pool_generate(plan=run_services.sampling_plan(run=run), images=3, name="digits").pool
    assert pool.images.count() == 3 and pool.model_family == "simgan"
    run = run_services.training_run_resume(run=run, iterations=run.iteration + 5, queue=False)
    run = run_services.training_run_execute(run=run)
    assert run.status == TrainingRun.Status.FAILED and "sampling" in run.error
