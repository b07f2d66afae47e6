"""Two researchers, Alice and Bob, and everything Alice owns: the objects every access test aims at."""
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.admindocs.views import extract_views_from_urlpatterns, simplify_regex
from django.test import Client
from django.urls import get_resolver
from PIL import Image

from analysis import static_charts, tables
from generation.models import Checkpoint, ImagePool, PoolImport, TrainingRun
from surveys import services
from surveys.models import Survey
from tests.analysis.conftest import answer_pairs

PASSWORD = "pw-for-tests-only"


@dataclass
class Owned:
    """What one researcher made: a survey with answers, its two pools, an import and a training run."""

    survey: Survey
    real: ImagePool
    fake: ImagePool
    pool_import: PoolImport
    run: TrainingRun
    chart: str  # a chart the survey's results page draws


@pytest.fixture(autouse=True)
def _no_chart_browser(settings):
    # Static charts would start Chromium; without it the chart views answer 503, which still shows they
    # found the survey (an owner's request) as opposed to 404 (anyone else's).
    settings.EVALSITE_CHROMIUM = "/nonexistent/chromium"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=PASSWORD)


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="admin", password=PASSWORD)


def logged_in(user, **client_options) -> Client:
    client = Client(**client_options)
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice):
    return logged_in(alice)


@pytest.fixture
def bob_client(bob):
    return logged_in(bob)


@pytest.fixture
def superuser_client(superuser):
    return logged_in(superuser)


@pytest.fixture
def owned(alice, make_pool, tmp_path) -> Owned:
    """Alice's survey (opened, answered), pools, finished import and finished run."""
    real = make_pool("alice-real", count=4, kind="real", created_by=alice)
    fake = make_pool("alice-fake", count=4, kind="generated", created_by=alice)
    survey = services.survey_create(name="alice survey", pools=[real, fake], trials_per_participant=4,
                                    created_by=alice)
    services.survey_open(survey=survey)
    person = services.participant_start(survey=survey)
    arms = {arm.label: arm for arm in survey.arms.all()}
    answer_pairs(person, arms, [("alice-real", "alice-fake", "alice-real"), ("alice-fake", "alice-real", "alice-fake")])
    record = PoolImport.objects.create(pool_name="alice-fake", pool=fake, status=PoolImport.Status.DONE,
                                       created_by=alice)
    run = finished_run(tmp_path / "alice-run", created_by=alice)
    chart = next(iter(static_charts.survey_charts(survey=survey, results=tables.survey_results(survey=survey))))
    return Owned(survey, real, fake, record, run, chart)


def finished_run(run_dir: Path, *, created_by) -> TrainingRun:
    """A finished run as its rows and files say it is: a sample grid and one checkpoint (never trained here)."""
    run_dir.mkdir(parents=True)
    Image.new("RGB", (8, 8), (10, 200, 10)).save(run_dir / "sample.png")
    run = TrainingRun.objects.create(
        name=f"run of {created_by.username}", family="dcgan", dataset="bundled:photos", options={},
        status=TrainingRun.Status.DONE, iterations=4, iteration=4, latest_sample="sample.png", run_dir=str(run_dir),
        created_by=created_by,
    )
    Checkpoint.objects.create(run=run, iteration=4, images_seen=16, training_seconds=1.0,
                              path=str(run_dir / "checkpoint-4.pt"))
    return run


# --- the URLconf, walked ------------------------------------------------------------------------------


def site_url_patterns() -> list[tuple[str, str]]:
    """(the pattern as a path with <name> placeholders, its view's dotted name) for every URL of the site."""
    found = []
    for view, regex, _namespace, _name in extract_views_from_urlpatterns(get_resolver().url_patterns):
        found.append((simplify_regex(regex), f"{view.__module__}.{getattr(view, '__qualname__', view)}"))
    return found


def fill_pattern(pattern: str, values: dict[str, str]) -> str:
    """``pattern`` with every ``<name>`` or ``<converter:name>`` replaced by ``values[name]`` (or "1")."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda match: values.get(match.group(1), "1"), pattern)
