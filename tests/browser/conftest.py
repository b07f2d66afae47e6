"""Real-browser tests: Playwright for Python driving Debian's /usr/bin/chromium (never a downloaded browser)."""
import os
import re
import shutil

import pytest

from tests.conftest import in_ci

CHROMIUM = os.environ.get("EVALSITE_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network: no background connections that this machine would refuse.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are ordinary synchronous calls, so Django's guard can stand down.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Collects the runner's instrumentation events (docs/participant-protocol.md) in sessionStorage, so that
# they outlive the runner's last navigation to the done page.
RECORD_EVENTS = """
const recorded = JSON.parse(sessionStorage.getItem("evalsite-events") || "[]");
for (const name of ["onset", "offset", "answer", "feedback", "countdown"]) {
  document.addEventListener("evalsite:" + name, (event) => {
    recorded.push({name, ...event.detail});
    sessionStorage.setItem("evalsite-events", JSON.stringify(recorded));
  });
}
"""


def _chromium_missing_reason() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _chromium_missing_reason()
    if reason:
        if in_ci():
            pytest.fail(f"browser tests must run under CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True,
                                  has_touch=True, locale="ja-JP")
    yield context
    context.close()


# --- Taking a survey ---------------------------------------------------------------------------


def consent(page, base_url: str, slug: str) -> None:
    """Agree on the welcome page and open the trials page, whatever the instructions page shows."""
    page.goto(f"{base_url}/s/{slug}/")
    page.locator("input[name=consent]").check()
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/instructions/$"))
    page.goto(f"{base_url}/s/{slug}/trial/")


def wait_answerable(page, after: int = -1, timeout: float = 30_000) -> dict | None:
    """Wait until a trial later than position ``after`` takes answers; its position and stage, or None once done."""
    from playwright.sync_api import Error

    try:
        state = _answerable_state(page, after, timeout)
    except Error as error:
        if "context was destroyed" not in str(error):
            raise
        return None  # the runner went on to the done page while we watched
    assert "error" not in state, state["error"]
    return None if state.get("done") else state


def _answerable_state(page, after: int, timeout: float) -> dict:
    handle = page.wait_for_function(
        """(after) => {
            const runner = document.getElementById("runner");
            if (!runner || runner.dataset.state === "done") return {done: true};
            if (runner.dataset.state === "error") return {error: document.getElementById("runner-error").textContent};
            const position = Number(runner.dataset.position);
            return runner.dataset.state === "answerable" && position > after
                ? {position, stage: runner.dataset.stage} : false;
        }""",
        arg=after, timeout=timeout, polling=50,
    )
    return handle.json_value()


def answer_every_trial(page, key_for, *, limit: int = 2000) -> list[dict]:
    """Answer each trial with the key ``key_for(trial)`` names until the runner goes to the done page.

    Returns the trials seen ({position, stage}) in order.
    """
    seen, after = [], -1
    for _ in range(limit):
        trial = wait_answerable(page, after)
        if trial is None:
            page.wait_for_url(re.compile(r"/done/$"))
            return seen
        seen.append(trial)
        page.keyboard.press(key_for(trial))
        after = trial["position"]
    raise AssertionError(f"more than {limit} trials")


def recorded_events(page) -> list[dict]:
    return page.evaluate("JSON.parse(sessionStorage.getItem('evalsite-events') || '[]')")
