"""Rate limits on the participant endpoints (evalsite/ratelimit.py), through Django's test client.

Windows are counted on ``ratelimit.clock``, which these tests hold still (or step at a participant's pace),
so that no window boundary can fall inside a test.
"""
import json
import math
import uuid

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from evalsite import ratelimit
from surveys import services
from surveys.models import Participant, Response, Trial
from tests.conftest import in_ci

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.9"
START = 1_800_000_000.25  # a moment just after a window boundary for every period used here
WINDOW_S = 3600
DEVICE = {"frame_ms": 16.667, "frame_sd_ms": 0.1, "frames": 120, "screen": [1920, 1080], "window": [1280, 800],
          "dpr": 1, "stimulus_px": 512.0, "stimulus_fits": True}
JSON = {"Accept": "application/json"}


class SteppedClock:
    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch, settings):
    """Counters start empty and the clock stands still unless a test moves it."""
    settings.EVALSITE_RATE_LIMITS_ENABLED = True
    counters = caches[settings.EVALSITE_RATE_LIMIT_CACHE]
    counters.clear()
    stepped = SteppedClock()
    monkeypatch.setattr(ratelimit, "clock", stepped)
    yield stepped
    counters.clear()


@pytest.fixture
def survey(make_pool):
    pools = [make_pool("rl-real", count=12, kind="real"), make_pool("rl-gen", count=12, kind="generated")]
    return services.survey_open(survey=services.survey_create(name="rl", pools=pools, trials_per_participant=8))


def url(name: str, survey) -> str:
    return reverse(f"surveys:{name}", kwargs={"slug": survey.slug})


def browser(address: str = ADDRESS) -> Client:
    return Client(REMOTE_ADDR=address)


def started(survey, address: str = ADDRESS) -> Client:
    client = browser(address)
    assert client.post(url("welcome", survey), {"consent": "yes"}).status_code == 302
    return client


def current_spec(client, survey) -> dict:
    return client.get(url("trials", survey), headers=JSON).json()["trials"][0]


def limit(settings, scope: str, kind: str, count: int) -> None:
    """``count`` requests per hour for ``kind`` in ``scope``; every other limit stays at its default."""
    limits = {name: dict(kinds) for name, kinds in settings.RATE_LIMIT_DEFAULTS.items()}
    limits[scope][kind] = (count, WINDOW_S)
    settings.EVALSITE_RATE_LIMITS = limits


# Each endpoint: its scope, and how a browser calls it. The answer is always to the current trial, and valid.
def _welcome(client, survey):
    return client.get(url("welcome", survey))


def _consent(client, survey):
    return client.post(url("welcome", survey), {"consent": "yes"})


def _answer(client, survey):
    spec = current_spec(client, survey)
    return client.post(url("answer", survey), {"position": spec["position"], "choice": "left",
                                               "reaction_time_ms": "700", "client_timing": "{}"}, headers=JSON)


def _check(client, survey):
    return client.post(url("check", survey), json.dumps(DEVICE), content_type="application/json", headers=JSON)


def _image(client, survey):
    return client.get(current_spec(client, survey)["images"][0])


ENDPOINTS = {
    "welcome": ("page", _welcome),
    "consent": ("start", _consent),
    "instructions": ("page", lambda client, survey: client.get(url("instructions", survey))),
    "trial": ("page", lambda client, survey: client.get(url("trial", survey))),
    "trials": ("trials", lambda client, survey: client.get(url("trials", survey), headers=JSON)),
    "answer": ("answer", _answer),
    "check": ("check", _check),
    "done": ("page", lambda client, survey: client.get(url("done", survey))),
    "image": ("image", _image),
}


def database_state() -> tuple:
    """Everything a participant request could write."""
    return (
        list(Participant.objects.order_by("pk").values()),
        Trial.objects.count(),
        list(Response.objects.order_by("pk").values_list("pk", "choice")),
        sorted(Session.objects.values_list("session_key", "session_data")),
    )


def assert_refused_and_nothing_written(send, client, survey):
    before = database_state()
    refused = send(client, survey)
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(math.ceil(START // WINDOW_S * WINDOW_S + WINDOW_S - START))
    assert "no-store" in refused["Cache-Control"]
    assert database_state() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_browser_over_its_session_limit_gets_429_and_writes_nothing(settings, survey, endpoint):
    scope, send = ENDPOINTS[endpoint]
    limit(settings, scope, "session", 2)
    client = started(survey)  # the consent post had no session yet: it counts for the address only
    for _ in range(2):
        assert send(client, survey).status_code < 400
    assert_refused_and_nothing_written(send, client, survey)
    # Another browser at the same address has its own session count.
    assert send(started(survey) if scope != "start" else browser(), survey).status_code < 400


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_address_over_its_limit_gets_429_and_writes_nothing(settings, survey, endpoint):
    scope, send = ENDPOINTS[endpoint]
    fresh = endpoint in ("welcome", "consent")  # the others need a participant started in that browser
    clients = [browser() if fresh else started(survey) for _ in range(3)]
    limit(settings, scope, "ip", 2)  # a window of another length: the starts above are not in its count
    for client in clients[:2]:
        assert send(client, survey).status_code < 400
    assert_refused_and_nothing_written(send, clients[2], survey)
    # Another address is counted on its own.
    other = browser(OTHER_ADDRESS) if fresh else started(survey, OTHER_ADDRESS)
    assert send(other, survey).status_code < 400


def test_the_limit_lifts_when_its_window_ends(settings, survey, clock):
    limit(settings, "answer", "session", 1)
    client = started(survey)
    assert _answer(client, survey).status_code == 200
    refused = _answer(client, survey)
    assert refused.status_code == 429
    clock.now += int(refused["Retry-After"])
    assert _answer(client, survey).status_code == 200
    assert Response.objects.count() == 2


def test_the_refusal_is_a_short_message_in_the_participants_language(settings, survey):
    limit(settings, "page", "ip", 1)
    client = browser()
    client.get(url("welcome", survey))
    english = client.get(url("welcome", survey))
    assert english["Content-Type"] == "text/plain; charset=utf-8"
    assert english.content.decode() == f"Too many requests. Please wait {english['Retry-After']} seconds and try again."
    japanese = client.get(url("welcome", survey), headers={"Accept-Language": "ja"})
    assert japanese.content.decode().startswith("リクエストが多すぎます。")


def test_the_runner_gets_the_refusal_as_json(settings, survey):
    limit(settings, "answer", "session", 1)
    client = started(survey)
    _answer(client, survey)
    refused = _answer(client, survey)
    body = refused.json()
    assert refused.status_code == 429
    assert body["recorded"] is False and body["retry_after"] == int(refused["Retry-After"])
    assert body["error"].startswith("Too many requests.")


def test_forwarded_addresses_count_only_behind_a_configured_proxy(settings, survey):
    limit(settings, "page", "ip", 1)
    first, second = browser("10.0.0.1"), browser("10.0.0.1")
    # No proxy configured: X-Forwarded-For is whatever the client wrote, so the connection's address counts.
    assert first.get(url("welcome", survey), headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 200
    assert second.get(url("welcome", survey), headers={"X-Forwarded-For": "192.0.2.2"}).status_code == 429
    settings.EVALSITE_PROXIES = 1
    # Behind one proxy, the address it appended is the client's; what the client put before it is not.
    assert first.get(url("welcome", survey), headers={"X-Forwarded-For": "6.6.6.6, 192.0.2.1"}).status_code == 200
    assert second.get(url("welcome", survey), headers={"X-Forwarded-For": "6.6.6.6, 192.0.2.2"}).status_code == 200
    assert second.get(url("welcome", survey), headers={"X-Forwarded-For": "7.7.7.7, 192.0.2.2"}).status_code == 429


def test_an_ipv6_client_is_counted_by_its_64_bit_prefix(settings, survey):
    limit(settings, "page", "ip", 1)
    assert browser("2001:db8:1:2::1").get(url("welcome", survey)).status_code == 200
    assert browser("2001:db8:1:2:ffff::9").get(url("welcome", survey)).status_code == 429
    assert browser("2001:db8:1:3::1").get(url("welcome", survey)).status_code == 200


def test_researchers_are_not_limited(settings, survey, researcher):
    limit(settings, "image", "ip", 1)
    client = started(survey)
    client.force_login(researcher)
    for _ in range(3):
        assert _image(client, survey).status_code == 200


def test_limits_can_be_turned_off(settings, survey):
    limit(settings, "page", "ip", 1)
    settings.EVALSITE_RATE_LIMITS_ENABLED = False
    client = browser()
    assert [client.get(url("welcome", survey)).status_code for _ in range(3)] == [200] * 3


def test_an_unreachable_cache_lets_participants_through(settings, survey):
    settings.CACHES = {
        **settings.CACHES,
        "unreachable": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"},
    }
    settings.EVALSITE_RATE_LIMIT_CACHE = "unreachable"
    limit(settings, "page", "ip", 1)
    client = browser()
    assert [client.get(url("welcome", survey)).status_code for _ in range(3)] == [200] * 3


TRIALS = 130


@pytest.mark.parametrize("javascript", [True, False])
def test_a_participant_faster_than_any_human_never_meets_the_default_limits(settings, make_pool, clock, javascript):
    """130 pairs answered one every half second, every image fetched: no 429 anywhere.

    130 trials at that pace fill a whole minute's window (120 answers, 240 images) and go on into the next.

    With JavaScript the runner checks the device, asks for the trials and preloads each trial's two images
    before posting its answer; without, each answer is a form post followed by the next trial page.
    """
    settings.EVALSITE_RATE_LIMITS = {name: dict(kinds) for name, kinds in settings.RATE_LIMIT_DEFAULTS.items()}
    pools = [make_pool("fast-real", count=12, kind="real"), make_pool("fast-gen", count=12, kind="generated")]
    survey = services.survey_open(survey=services.survey_create(name="fast", pools=pools, trials_per_participant=TRIALS))
    client = browser()
    statuses = [client.get(url("welcome", survey)).status_code, client.post(url("welcome", survey), {"consent": "yes"}).status_code,
                client.get(url("instructions", survey)).status_code, client.get(url("trial", survey)).status_code]
    if javascript:
        statuses.append(_check(client, survey).status_code)
        state = client.get(url("trials", survey), headers=JSON).json()
        upcoming = state["trials"]
        while upcoming:
            spec = upcoming[0]
            statuses += [client.get(image).status_code for image in spec["images"]]
            reply = client.post(url("answer", survey), {"position": spec["position"], "choice": "left",
                                                        "reaction_time_ms": "450", "client_timing": "{}"}, headers=JSON)
            statuses.append(reply.status_code)
            upcoming = reply.json()["trials"] if reply.status_code == 200 else []
            clock.now += 0.5
    else:
        for position in range(TRIALS):
            statuses.append(client.post(url("answer", survey), {"position": position, "choice": "left"}).status_code)
            statuses.append(client.get(url("trial", survey)).status_code)
            clock.now += 0.5
    statuses.append(client.get(url("done", survey)).status_code)
    assert 429 not in statuses
    assert Response.objects.filter(trial__participant__survey=survey).count() == TRIALS


def test_the_machine_itself_is_counted_by_its_sessions_only(settings, survey):
    """A proxy on the same machine that EVALSITE_PROXIES does not declare must not put every participant under
    one address's limit; each browser's session is still counted."""
    limit(settings, "page", "ip", 1)
    assert [browser("127.0.0.1").get(url("welcome", survey)).status_code for _ in range(3)] == [200] * 3
    limit(settings, "page", "session", 1)
    local = started(survey, "::1")
    assert [local.get(url("trial", survey)).status_code for _ in range(2)] == [200, 429]


@pytest.fixture
def redis_counters(settings):
    """The counters in the machines' Redis (as EVALSITE_CACHE_URL puts them), under a prefix of this test's own."""
    import redis

    url = "redis://127.0.0.1:6379/1"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if in_ci():
            pytest.fail(f"Redis must be reachable under CI: {error}")
        pytest.skip(f"no Redis at {url}: {error}")
    prefix = f"evalsite-test-{uuid.uuid4().hex}"
    settings.CACHES = {**settings.CACHES, "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                     "LOCATION": url, "KEY_PREFIX": prefix}}
    settings.EVALSITE_RATE_LIMIT_CACHE = "redis"
    client = redis.Redis.from_url(url)
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_counters_in_redis_limit_alike_and_expire_with_their_window(settings, survey, redis_counters):
    client, prefix = redis_counters
    limit(settings, "answer", "session", 2)
    browser_ = started(survey)
    assert [_answer(browser_, survey).status_code for _ in range(3)] == [200, 200, 429]
    assert Response.objects.count() == 2
    keys = list(client.scan_iter(f"{prefix}:*:evalsite:ratelimit:answer:*"))
    assert len(keys) == 2  # the session's and the address's
    assert all(0 < client.ttl(key) <= WINDOW_S + 1 for key in keys)
    assert sorted(int(client.get(key)) for key in keys) == [3, 3]
