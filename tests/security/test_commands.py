"""What the commands create has an owner: --owner USERNAME, or the demo researcher for the demo."""
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from generation.models import ImagePool, TrainingRun
from surveys.models import Survey
from tests.images import write_images
from tests.security.conftest import logged_in

pytestmark = pytest.mark.django_db


def test_import_pool_and_create_survey_give_the_owner_named(alice, bob, tmp_path):
    for name in ("a", "b"):
        write_images(tmp_path / name, 2, prefix=name, first_seed=10 * len(name) + ord(name))
        call_command("import_pool", f"pool-{name}", str(tmp_path / name), "--owner", "alice", stdout=None)
    call_command("create_survey", "alices", "--pool", "pool-a", "--pool", "pool-b", "--trials", "2", "--owner", "alice",
                 stdout=None)
    survey = Survey.objects.get(name="alices")
    assert survey.created_by == alice and {pool.created_by for pool in ImagePool.objects.all()} == {alice}
    assert logged_in(alice).get(reverse("surveys:survey_detail", kwargs={"pk": survey.pk})).status_code == 200
    assert logged_in(bob).get(reverse("surveys:survey_detail", kwargs={"pk": survey.pk})).status_code == 404


def test_without_owner_a_command_makes_rows_only_superusers_see(alice, tmp_path):
    write_images(tmp_path / "x", 2)
    call_command("import_pool", "nobodys", str(tmp_path / "x"), stdout=None)
    pool = ImagePool.objects.get(name="nobodys")
    assert pool.created_by is None
    assert logged_in(alice).get(reverse("generation:pool_detail", kwargs={"pk": pool.pk})).status_code == 404


@pytest.mark.parametrize("command, args", [
    ("import_pool", ["p", "."]),
    ("create_survey", ["s", "--pool", "p"]),
    ("generate", ["run", "--images", "1"]),
    ("matched_pools", ["a", "b", "--by", "iterations", "--images", "1"]),
    ("train", ["--model", "dcgan"]),
])
def test_an_unknown_owner_is_refused_before_anything_is_made(command, args):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command(command, *args, "--owner", "nobody")
    assert not (ImagePool.objects.exists() or Survey.objects.exists() or TrainingRun.objects.exists())


def test_everything_the_demo_makes_belongs_to_the_demo_researcher():
    call_command("demo", "--images", "2", "--password", "pw", "--username", "demo-researcher", stdout=None)
    owners = {row.created_by.username if row.created_by else None
              for model in (Survey, ImagePool, TrainingRun) for row in model.objects.select_related("created_by")}
    assert owners == {"demo-researcher"}
