"""Production configuration from environment variables alone, checked the way a deployment runs it:
`manage.py` and gunicorn in subprocesses with a production environment (docs/deploy.md)."""
import gzip
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import brotli
import pytest

REPO = Path(__file__).resolve().parents[2]
HOST = "eval.example.org"


def bare_environment() -> dict:
    """This process's environment without any of the site's own variables."""
    ours = ("DJANGO_", "EVALSITE_", "DATABASE_URL", "CELERY_", "TEST_DATABASE_URL")
    return {key: value for key, value in os.environ.items() if not key.startswith(ours)}


def production_environment(tmp_path: Path, **changes: str) -> dict:
    env = bare_environment()
    env.update(
        EVALSITE_ENV="production",
        EVALSITE_SECRET_KEY=secrets.token_urlsafe(50),
        EVALSITE_ALLOWED_HOSTS=HOST,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        EVALSITE_CACHE_URL="redis://127.0.0.1:6379/1",
        EVALSITE_PROXIES="1",
        EVALSITE_VAR_DIR=str(tmp_path / "var"),
        EVALSITE_MEDIA_ROOT=str(tmp_path / "media"),
    )
    env.update(changes)
    return {key: value for key, value in env.items() if value is not None}


def manage(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


# --- manage.py check --deploy ------------------------------------------------------------------------------------


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    done = manage(production_environment(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "System check identified no issues" in done.stdout


def test_check_deploy_fails_when_https_is_turned_off(tmp_path):
    """The test above can fail: without the HTTPS hardening, check --deploy names what is missing."""
    done = manage(production_environment(tmp_path, EVALSITE_HTTPS="false"), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in done.stderr


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"EVALSITE_SECRET_KEY": None}, "EVALSITE_ENV=production needs EVALSITE_SECRET_KEY"),
        ({"EVALSITE_SECRET_KEY": "  "}, "EVALSITE_ENV=production needs EVALSITE_SECRET_KEY"),
        ({"EVALSITE_ALLOWED_HOSTS": None}, "EVALSITE_ENV=production needs EVALSITE_ALLOWED_HOSTS"),
        ({"EVALSITE_DEBUG": "true"}, "EVALSITE_DEBUG must be off when EVALSITE_ENV=production"),
        ({"EVALSITE_ENV": "prod"}, "EVALSITE_ENV must be 'development' or 'production', not 'prod'"),
        ({"EVALSITE_CACHE_URL": "memcached://127.0.0.1"}, "EVALSITE_CACHE_URL must be a redis://"),
        ({"EVALSITE_RATE_LIMITS": "answer.session=lots"}, "EVALSITE_RATE_LIMITS: cannot read 'answer.session=lots'"),
    ],
)
def test_an_unsafe_production_environment_is_refused_with_its_reason(tmp_path, changes, message):
    done = manage(production_environment(tmp_path, **changes), "check")
    assert done.returncode != 0
    assert "ImproperlyConfigured: " + message in done.stderr
    # Never quietly the embedded key: none was written.
    assert not (tmp_path / "var" / "secret_key").exists()


def test_the_embedded_default_needs_no_environment_at_all(tmp_path):
    env = {**bare_environment(), "EVALSITE_VAR_DIR": str(tmp_path / "var")}
    done = manage(env, "check")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "secret_key").exists()


def test_rate_limits_are_read_from_the_environment(tmp_path):
    env = production_environment(tmp_path, EVALSITE_RATE_LIMITS="answer.session=300/60, image.ip=5/1")
    code = ("from django.conf import settings; import json; "
            "print(json.dumps([settings.EVALSITE_RATE_LIMITS[s] for s in ('answer', 'image', 'check')]))")
    done = manage(env, "shell", "-c", code)
    assert done.returncode == 0, done.stderr
    answer, image, check = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"session": [300, 60], "ip": [3600, 60]}
    assert image == {"session": [600, 60], "ip": [5, 1]}
    assert check == {"session": [20, 60], "ip": [600, 60]}


# --- collectstatic and gunicorn ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One GET, redirects not followed; header names in lower case."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": HOST, **(headers or {})})
        reply = connection.getresponse()
        return reply.status, {name.lower(): value for name, value in reply.getheaders()}, reply.read()
    finally:
        connection.close()


HTTPS = {"X-Forwarded-Proto": "https"}  # as the reverse proxy (EVALSITE_PROXIES=1) says for an HTTPS request


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """collectstatic, then gunicorn with gunicorn.conf.py under a production environment: (port, static root)."""
    tmp_path = tmp_path_factory.mktemp("served")
    port = free_port()
    env = production_environment(
        tmp_path, EVALSITE_STATIC_ROOT=str(tmp_path / "static"), EVALSITE_BIND=f"127.0.0.1:{port}",
        EVALSITE_WEB_WORKERS="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    collected = manage(env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "evalsite.wsgi"], cwd=REPO,
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_serving(server, port, tmp_path / "gunicorn.log")
        yield port, tmp_path / "static"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # gunicorn's master and its workers, all started here
        server.wait(timeout=30)
        log.close()


def _wait_until_serving(server: subprocess.Popen, port: int, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if fetch(port, "/accounts/login/", HTTPS)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"gunicorn did not serve within {timeout} s:\n{log.read_text()[-3000:]}")


def hashed_name(static_root: Path, name: str) -> str:
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    return manifest["paths"][name]


@pytest.mark.parametrize("encoding,decompress", [("gzip", gzip.decompress), ("br", brotli.decompress)])
def test_a_hashed_static_file_is_served_compressed_and_cached_for_ever(served, encoding, decompress):
    port, static_root = served
    name = hashed_name(static_root, "surveys/runner.js")
    assert name != "surveys/runner.js"
    status, headers, body = fetch(port, f"/static/{name}", {"Accept-Encoding": encoding, **HTTPS})
    assert status == 200
    assert headers["content-encoding"] == encoding
    assert "max-age=315360000" in headers["cache-control"] and "immutable" in headers["cache-control"]
    assert decompress(body) == (static_root / name).read_bytes()


def test_an_unhashed_static_name_is_not_cached_for_ever(served):
    port, _ = served
    status, headers, _ = fetch(port, "/static/surveys/runner.js", HTTPS)
    assert status == 200
    assert "immutable" not in headers["cache-control"]


def test_the_login_page_carries_the_security_headers(served):
    port, _ = served
    status, headers, _ = fetch(port, "/accounts/login/", HTTPS)
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=31536000"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    cookie = headers["set-cookie"]
    assert cookie.startswith("csrftoken=") and "; Secure" in cookie


def test_plain_http_is_redirected_to_https(served):
    port, _ = served
    status, headers, _ = fetch(port, "/accounts/login/?next=/r/")
    assert status == 301
    assert headers["location"] == f"https://{HOST}/accounts/login/?next=/r/"


def test_an_unknown_host_is_refused(served):
    port, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/accounts/login/", headers={"Host": "attacker.example", **HTTPS})
    assert connection.getresponse().status == 400
    connection.close()
