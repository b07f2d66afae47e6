"""A researcher trains a model, watches its page and samples a pool from it, in Chromium."""
import os
import re
from pathlib import Path

import pytest

from generation.models import ImagePool, TrainingRun
from tests.images import write_images

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, base_url: str, researcher) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", researcher.username)
    page.fill("input[name=password]", "pw-for-tests-only")
    page.locator("form button[type=submit]").click()


def _screenshot(page, name: str) -> None:
    if folder := os.environ.get("EVALSITE_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_train_watch_and_sample_a_pool_from_the_pages(desktop, live_server, researcher, tmp_path):
    folder = tmp_path / "photos"
    write_images(folder, 12, size=(20, 20))
    page = desktop.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _login(page, live_server.url, researcher)

    page.goto(f"{live_server.url}/r/runs/new/")
    page.select_option("select[name=family]", "dcgan")
    page.fill("input[name=name]", "browser dcgan")
    page.fill("input[name=dataset_folder]", str(folder))
    for field, value in {"size": "16", "iterations": "4", "batch_size": "4", "width": "0.125", "checkpoint_every": "2"}.items():
        page.fill(f"input[name={field}]", value)
    page.get_by_role("button", name="Start training").click()
    # Tests run queued tasks synchronously, so the run has trained by the time its page opens.
    page.wait_for_url(re.compile(r"/r/runs/\d+/$"))
    run = TrainingRun.objects.get(name="browser dcgan")
    assert run.status == TrainingRun.Status.DONE, run.error

    page.wait_for_selector("#loss-chart .main-svg")  # plotly drew the losses from the status JSON
    legend = page.locator("#loss-chart .legendtext").all_text_contents()
    assert {"d_loss", "g_loss"} <= set(legend), legend
    assert page.locator("#loss-chart .scatterlayer .point").count() >= 2  # the logged points are drawn
    assert page.locator("text=No losses logged yet.").count() == 0
    page.wait_for_function("document.getElementById('sample-grid').naturalWidth > 0")
    assert page.locator("[data-field=status_display]").inner_text() == "Done"
    assert page.locator("table").nth(1).locator("tbody tr").count() == 2  # checkpoints at 2 and 4
    _screenshot(page, "run-page")

    page.fill("input[name=images]", "3")
    page.fill("input[name=name]", "browser pool")
    page.locator("form[action$='/generate/'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/r/imports/\d+/$"))
    page.locator("a.button", has_text="Open the pool").click()
    page.wait_for_selector(".thumbs img")
    page.wait_for_function("[...document.querySelectorAll('.thumbs img')].every(img => img.complete && img.naturalWidth === 16)")
    assert page.locator(".thumbs img").count() == 3
    assert ImagePool.objects.get(name="browser pool").iteration == 4
    assert not errors, errors
