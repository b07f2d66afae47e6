import pytest
from django.core.files.base import ContentFile
from PIL import ImageFile

from generation.checks import check_image_support
from generation.models import ImagePool, PoolImport
from generation.tasks import pool_import_task
from tests.generation.helpers import zip_bytes
from tests.images import image_bytes


@pytest.mark.django_db
def test_task_runs_the_import_by_id():
    record = PoolImport(pool_name="cats")
    record.upload.save("upload.zip", ContentFile(zip_bytes({"a.png": image_bytes(seed=1)})))
    pool_import_task.delay(record.pk)  # eager in tests, as in the embedded default
    record.refresh_from_db()
    assert record.status == PoolImport.Status.DONE
    assert ImagePool.objects.get().name == "cats"


@pytest.mark.django_db
def test_task_for_a_deleted_import_does_nothing():
    pool_import_task.delay(12345)
    assert not ImagePool.objects.exists()


def test_image_support_check_passes_here():
    assert check_image_support() == []


def test_image_support_check_reports_truncated_loading(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert [e.id for e in check_image_support()] == ["generation.E002"]


def test_image_support_check_warns_about_a_limit_pillow_overrides(settings):
    settings.EVALSITE_MAX_IMAGE_PIXELS = 10**12
    assert [e.id for e in check_image_support()] == ["generation.W001"]
