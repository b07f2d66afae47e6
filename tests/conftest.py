import os

import pytest

from tests.images import write_images


@pytest.fixture(scope="session")
def datasets_dir(tmp_path_factory):
    """Bundled datasets are built once per test session, not once per test."""
    return tmp_path_factory.mktemp("datasets")


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path, datasets_dir):
    """Every test writes media and runs into its own temporary folders, runs queued tasks synchronously
    (no background threads) and hashes passwords fast."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EVALSITE_RUNS_DIR = tmp_path / "runs"
    settings.EVALSITE_DATASETS_DIR = datasets_dir
    settings.EVALSITE_BACKGROUND_THREADS = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_user(username="researcher", password="pw-for-tests-only")


@pytest.fixture
def researcher_client(client, researcher):
    client.force_login(researcher)
    return client


@pytest.fixture
def image_folder(tmp_path):
    """Twelve small training images in a folder: enough for a tiny training run."""
    folder = tmp_path / "train-images"
    write_images(folder, 12, size=(20, 20))
    return folder


@pytest.fixture
def make_pool(tmp_path):
    """Import ``count`` distinct generated PNGs as a pool through the real import service."""
    from generation.services import pool_import

    counter = {"seed": 0}

    def _make(name: str, count: int = 6, kind: str = "imported", **kwargs):
        folder = tmp_path / "sources" / name
        write_images(folder, count, prefix=name, first_seed=counter["seed"])
        counter["seed"] += count
        return pool_import(name=name, source=folder, kind=kind, **kwargs).pool

    return _make


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
