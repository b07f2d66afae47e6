"""Simulated participants for the load benchmark and the fault tests: asyncio and aiohttp, one cookie jar each.

Each participant does what a browser running surveys/static/surveys/runner.js does (docs/participant-protocol.md):
opens the survey link (with Prolific ids, so that a retried consent resumes the same participant instead of
starting a second one), consents, opens the trials page (its CSRF token, as the runner reads it), posts the
device check, fetches ``trials/``, then for each trial waits its think time and posts the answer with the
runner's form fields (``position``, ``choice``, ``reaction_time_ms``, ``client_timing`` with ``attempts``), and
finally opens the done page. Every request is retried like the runner retries an answer: on a network error,
a timeout, a 5xx or an unreadable reply, after 0.5 s doubling to 10 s, until the server decides. A 409 on an
answer is followed as the runner follows it: drop that answer, ask ``trials/`` where we are; a 429 is retried
after its Retry-After.

Everything the server confirmed is kept in a ``Tally`` so that ``audit`` can compare it with the database.
"""
from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

MAX_RETRY_DELAY_S = 10.0
REQUEST_TIMEOUT_S = 60.0
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# What runner.js posts to check/ on a 60 Hz desktop screen (an untimed survey refuses nothing).
DEVICE_CHECK = {"frame_ms": 16.67, "frame_sd_ms": 0.2, "frames": 120, "late_frames": 0, "frame_runs": 1,
                "screen": [1920, 1080], "window": [1280, 800], "dpr": 1, "stimulus_px": 256, "stimulus_fits": True}
CHOICES = {"pairwise": ("left", "right"), "real_fake": ("real", "generated")}


class Refused(Exception):
    """The server decided against a request (a 4xx other than a followed 409): the participant stops."""


class GaveUp(Exception):
    """Retrying went past the caller's deadline."""


@dataclass
class Tally:
    """What the clients saw: confirmed answers, their latencies, retries and refusals."""

    confirmed: dict[tuple[str, int], str] = field(default_factory=dict)  # (worker id, position) -> choice
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (monotonic time confirmed, seconds)
    retries: int = 0
    errors: Counter = field(default_factory=Counter)  # refusals and give-ups, by kind
    started: int = 0
    ready: int = 0  # participants who got through the start (consent, trials page, check) to their first trial
    finished: int = 0  # participants who reached the done page
    unconfirmed: int = 0  # answers still being retried when the run was cut off
    window: tuple[float, float] = (0.0, 0.0)  # the measured interval (monotonic), set by the runner
    start_s: float = 0.0  # how long the first participants of every slot took to get started, all at once
    all_started: bool = True  # False: the window opened before all of them had (max_start_s ran out)
    window_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds each part of the stack used in the window

    def in_window(self) -> list[float]:
        """Latencies (s) of the answers confirmed inside the measured window."""
        start, end = self.window
        return [latency for at, latency in self.latencies if start <= at < end]

    def rate(self) -> float:
        """Confirmed answers per second in the measured window."""
        start, end = self.window
        return len(self.in_window()) / (end - start) if end > start else 0.0


class Http:
    """One participant's browser: its own cookie jar, the runner's retry rule on every request."""

    def __init__(self, session: aiohttp.ClientSession, tally: Tally, give_up_at: float | None):
        self.session, self.tally, self.give_up_at = session, tally, give_up_at

    async def until_decided(self, method: str, url: str, per_attempt=None, json_reply: bool = False,
                            **kwargs) -> tuple[int, str, str]:
        """(status, body, final url) once the server decided (below 500, not 429); retries the rest with backoff.

        A 429 is retried no sooner than its Retry-After, as the runner does; with ``json_reply`` a success whose
        body is not JSON is retried too (the runner's "unreadable reply"). ``per_attempt(n)`` gives request
        arguments that change with the attempt number (the answer's ``attempts`` count).
        """
        attempt = 0
        while True:
            attempt += 1
            not_before = 0.0
            arguments = {**kwargs, **(per_attempt(attempt) if per_attempt else {})}
            try:
                async with self.session.request(method, url, **arguments) as reply:
                    body = (await reply.read()).decode("utf-8", errors="replace")  # images too
                    if reply.status == 429:
                        self.tally.errors["429 rate limited (retried)"] += 1
                        not_before = float(reply.headers.get("Retry-After") or 1)
                    elif reply.status < 500 and not (json_reply and reply.status < 400 and not _is_json(body)):
                        return reply.status, body, str(reply.url)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            self.tally.retries += 1
            delay = max(not_before, min(MAX_RETRY_DELAY_S, 0.5 * 2 ** (attempt - 1)))
            if self.give_up_at is not None and time.monotonic() + delay > self.give_up_at:
                raise GaveUp(f"{method} {url} undecided after {attempt} attempts")
            await asyncio.sleep(delay)

    async def page(self, method: str, url: str, **kwargs) -> tuple[str, str]:
        status, body, final_url = await self.until_decided(method, url, **kwargs)
        if status != 200:
            raise Refused(f"{method} {url}: {status}")
        return body, final_url

    async def json(self, method: str, url: str, **kwargs) -> tuple[int, dict]:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        status, body, _ = await self.until_decided(method, url, headers=headers, json_reply=True, **kwargs)
        try:
            return status, json.loads(body)
        except ValueError:
            raise Refused(f"{method} {url}: {status} with an unreadable reply")


@dataclass
class Survey:
    base_url: str
    slug: str
    kind: str = "pairwise"
    images: bool = False  # participants also fetch each trial's images, as the runner preloads them

    def url(self, name: str) -> str:
        return f"{self.base_url}/s/{self.slug}/{name}"

    def link(self, worker_id: str) -> str:
        return f"{self.url('')}?PROLIFIC_PID={worker_id}&STUDY_ID=load&SESSION_ID={worker_id}"


def think_time(mean_s: float) -> float:
    """A participant's pause before an answer: uniform on [0.5, 1.5] x the mean (none when the mean is 0)."""
    return random.uniform(0.5 * mean_s, 1.5 * mean_s) if mean_s > 0 else 0.0


def client_timing(spec: dict, reaction_ms: float, attempts: int) -> dict:
    """The trial log runner.js sends for an untimed trial answered by key (planned_ms null, no offset)."""
    onset = 1000.0 + spec["position"] * 2000.0
    return {
        "planned_ms": spec.get("exposure_ms"), "frames_planned": None, "frame_ms": 16.67,
        "onset_ms": onset, "offset_ms": None, "achieved_ms": None, "frames_achieved": None, "dropped_frames": None,
        "max_interval_ms": 16.7, "decode_ms": 1.0, "response_ms": onset + reaction_ms,
        "reaction_time_ms": reaction_ms, "input": "keyboard", "blur_count": 0, "hidden_count": 0,
        "focus_lost": False, "viewport": [1280, 800], "dpr": 1, "attempts": attempts,
    }


class Participant:
    """One simulated participant taking ``survey`` from the link to the done page."""

    def __init__(self, survey: Survey, worker_id: str, http: Http, tally: Tally, think_s: float):
        self.survey, self.worker_id, self.http, self.tally, self.think_s = survey, worker_id, http, tally, think_s
        self.csrf = ""
        self.fetched: set[str] = set()

    async def run(self, stop: asyncio.Event | None = None) -> bool:
        """True once the done page is reached; False when ``stop`` was set first."""
        self.tally.started += 1
        await self.consent()
        if stop is not None and stop.is_set():
            return False
        state = await self.start_trials()
        self.tally.ready += 1
        upcoming, finished = state["trials"], state["finished"]
        while not finished and upcoming:
            if stop is not None and stop.is_set():
                return False
            if self.survey.images:
                await self.preload(upcoming[:2])
            await asyncio.sleep(think_time(self.think_s))
            reply = await self.answer(upcoming[0])
            if reply.get("conflict"):  # answered elsewhere: follow the server, as the runner does
                reply = (await self.http.json("GET", self.survey.url("trials/")))[1]
            upcoming, finished = reply["trials"], reply["finished"]
        await self.done()
        return True

    async def preload(self, specs: list[dict]) -> None:
        """The current trial's images and the next one's, each once (the runner preloads the same two)."""
        for url in (url for spec in specs for url in spec["images"] if url not in self.fetched):
            status, _, _ = await self.http.until_decided("GET", self.survey.base_url + url)
            if status != 200:
                raise Refused(f"image {url}: {status}")
            self.fetched.add(url)

    async def consent(self) -> None:
        link = self.survey.link(self.worker_id)
        body, _ = await self.http.page("GET", link)
        token = CSRF_FIELD.search(body)
        if token is None:
            raise Refused(f"no consent form at {link}")
        _, landed = await self.http.page("POST", link, data={"consent": "yes", "csrfmiddlewaretoken": token.group(1)})
        if "/instructions/" not in landed and "/trial/" not in landed:
            raise Refused(f"consent led to {landed}")

    async def start_trials(self) -> dict:
        body, _ = await self.http.page("GET", self.survey.url("trial/"))
        token = CSRF_FIELD.search(body)
        if token is None:
            raise Refused("no trial form on the trials page")
        self.csrf = token.group(1)
        status, check = await self.http.json("POST", self.survey.url("check/"), json=DEVICE_CHECK,
                                             headers={"X-CSRFToken": self.csrf})
        if status != 200 or not check.get("ok"):
            raise Refused(f"device check refused: {status} {check}")
        status, state = await self.http.json("GET", self.survey.url("trials/"))
        if status != 200:
            raise Refused(f"trials/: {status}")
        return state

    async def answer(self, spec: dict) -> dict:
        """Deliver one answer until the server decides; the reply's data ({recorded, finished, trials} or conflict)."""
        choice = "seen" if spec["stage"] == "training" else random.choice(CHOICES[self.survey.kind])
        reaction_ms = round(random.uniform(400, 1500), 1)
        def form(attempt: int) -> dict:  # the attempt number goes into client_timing, as the runner's does
            return {"data": {"position": str(spec["position"]), "choice": choice, "reaction_time_ms": str(reaction_ms),
                             "client_timing": _json(client_timing(spec, reaction_ms, attempt))}}

        sent_at = time.monotonic()
        status, reply = await self.http.json("POST", self.survey.url("answer/"), per_attempt=form,
                                             headers={"X-CSRFToken": self.csrf})
        if status == 200 and reply.get("recorded"):
            self.tally.confirmed[(self.worker_id, spec["position"])] = choice
            self.tally.latencies.append((time.monotonic(), time.monotonic() - sent_at))
            return reply
        if status == 409:
            self.tally.errors["409 conflict"] += 1
            return {"conflict": True}
        raise Refused(f"answer refused: {status} {reply}")

    async def done(self) -> None:
        _, landed = await self.http.page("GET", self.survey.url("done/"))
        if not landed.rstrip("/").endswith("/done"):
            raise Refused(f"the done page sent us to {landed}")
        self.tally.finished += 1


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _is_json(body: str) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def new_connector() -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)


def participant_session(connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
    # unsafe=True: keep cookies set by an IP-address host (127.0.0.1), which aiohttp refuses by default.
    return aiohttp.ClientSession(connector=connector, connector_owner=False,
                                 cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))


async def take_part(survey: Survey, worker_id: str, connector, tally: Tally, think_s: float,
                    stop: asyncio.Event | None = None, give_up_at: float | None = None) -> bool:
    """One participant from link to done page (True), or until ``stop`` (False); refusals are tallied."""
    async with participant_session(connector) as session:
        participant = Participant(survey, worker_id, Http(session, tally, give_up_at), tally, think_s)
        try:
            return await participant.run(stop)
        except Refused as refusal:
            tally.errors[str(refusal).split(":")[0][:60]] += 1
        except GaveUp:
            tally.errors["gave up retrying"] += 1
            tally.unconfirmed += 1
        except Exception as error:  # a bug of the client's own must show in the figures, not end a slot silently
            tally.errors[f"client error: {error.__class__.__name__}"] += 1
        return False


async def participants_for(survey: Survey, count: int, seconds: float, *, prefix: str, think_s: float,
                           warmup_s: float = 2.0, ramp_s: float = 2.0, max_start_s: float = 15.0,
                           grace_s: float = 60.0, cpu_reading: Callable[[], dict[str, float]] | None = None) -> Tally:
    """``count`` participants at all times, measured for ``seconds``: one who finishes is replaced by a new one.

    The slots start over ``ramp_s``; the measured window opens ``warmup_s`` after the first participant of every
    slot has got through the start (consent, trials page, device check), so that it holds the steady state, in
    which participants come and go, and not the rush of ``count`` people consenting in the same second; but no
    later than ``max_start_s`` + ``warmup_s``, which keeps the run bounded on a server too slow for the rush.
    """
    tally, stop = Tally(), asyncio.Event()
    connector = new_connector()

    async def slot(index: int) -> None:
        await asyncio.sleep(ramp_s * index / count)
        serial = 0
        while not stop.is_set():
            serial += 1
            await take_part(survey, f"{prefix}-{index}-{serial}", connector, tally, think_s, stop)

    began = time.monotonic()
    tasks = [asyncio.create_task(slot(index)) for index in range(count)]
    while tally.ready < count and time.monotonic() - began < max_start_s:
        await asyncio.sleep(0.05)
    tally.start_s, tally.all_started = time.monotonic() - began, tally.ready >= count
    await _measure(tally, warmup_s, seconds, cpu_reading)
    stop.set()
    await _finish(tasks, grace_s, tally)
    await connector.close()
    return tally


async def _measure(tally: Tally, warmup_s: float, seconds: float,
                   cpu_reading: Callable[[], dict[str, float]] | None = None) -> None:
    """Open the measured window after ``warmup_s`` and close it ``seconds`` later; with ``cpu_reading`` (CPU seconds
    by part, so far), also note what each part used inside the window."""
    await asyncio.sleep(warmup_s)
    before = cpu_reading() if cpu_reading else {}
    opened = time.monotonic()
    await asyncio.sleep(seconds)
    tally.window = (opened, time.monotonic())
    if cpu_reading:
        after = cpu_reading()
        tally.window_cpu = {part: after[part] - before[part] for part in after}


async def _finish(tasks: list[asyncio.Task], grace_s: float, tally: Tally) -> None:
    """Let requests in flight be answered (participants stop before their next step), so that the server has no
    stale work left for the next phase; whatever is still undecided after ``grace_s`` is cut off and counted."""
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        task.cancel()
    tally.unconfirmed += len(pending)
    await asyncio.gather(*tasks, return_exceptions=True)


async def ceiling_for(base_url: str, count: int, seconds: float, *, run: str, warmup_s: float = 2.0,
                      grace_s: float = 60.0, cpu_reading: Callable[[], dict[str, float]] | None = None) -> Tally:
    """``count`` clients posting to the bare-insert view back to back (bench/load_urls.py), measured for ``seconds``."""
    tally, stop = Tally(), asyncio.Event()
    connector = new_connector()
    url = f"{base_url}/bench/insert/"
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
    http = Http(session, tally, give_up_at=None)

    async def client(index: int) -> None:
        sent = 0
        while not stop.is_set():
            sent += 1
            started = time.monotonic()
            status, reply = await http.json("POST", url, data={"run": run, "client": str(index), "sent": str(sent)})
            if status != 200 or not reply.get("recorded"):
                tally.errors[f"insert {status}"] += 1
                continue
            tally.confirmed[(index, sent)] = "inserted"
            tally.latencies.append((time.monotonic(), time.monotonic() - started))

    tasks = [asyncio.create_task(client(index)) for index in range(count)]
    await _measure(tally, warmup_s, seconds, cpu_reading)
    stop.set()
    await _finish(tasks, grace_s, tally)
    await session.close()
    return tally


# --- Checking the database ------------------------------------------------------------------------


@dataclass
class Audit:
    """The database against what the clients were told."""

    confirmed: int  # answers the server confirmed to a client
    stored: int  # responses of these participants in the database
    lost: int  # confirmed but absent, or stored with another choice
    doubled: int  # trials with more than one response, plus workers with more than one participant
    unconfirmed_stored: int  # stored but never confirmed (the reply was cut off when the run stopped)
    completed: int  # participants the database marks complete


ANSWERS_SQL = """
SELECT p.worker_id, t.position, r.choice
FROM surveys_response r JOIN surveys_trial t ON t.id = r.trial_id JOIN surveys_participant p ON p.id = t.participant_id
WHERE p.worker_id LIKE %(prefix)s
"""
DOUBLED_ANSWERS_SQL = """
SELECT count(*) FROM (
  SELECT t.participant_id, t.position FROM surveys_response r JOIN surveys_trial t ON t.id = r.trial_id
  JOIN surveys_participant p ON p.id = t.participant_id WHERE p.worker_id LIKE %(prefix)s
  GROUP BY t.participant_id, t.position HAVING count(*) > 1) AS doubled
"""
DOUBLED_PARTICIPANTS_SQL = """
SELECT count(*) FROM (SELECT worker_id FROM surveys_participant WHERE worker_id LIKE %(prefix)s
  GROUP BY survey_id, worker_id HAVING count(*) > 1) AS doubled
"""
COMPLETED_SQL = "SELECT count(*) FROM surveys_participant WHERE worker_id LIKE %(prefix)s AND completed_at IS NOT NULL"


def audit(db_url: str, tally: Tally, prefix: str) -> Audit:
    """Compare every answer the clients saw confirmed with the responses stored for participants ``prefix``-*."""
    import psycopg

    params = {"prefix": f"{prefix}-%"}
    with psycopg.connect(db_url, connect_timeout=10) as connection:
        rows = connection.execute(ANSWERS_SQL, params).fetchall()
        doubled = connection.execute(DOUBLED_ANSWERS_SQL, params).fetchone()[0]
        doubled += connection.execute(DOUBLED_PARTICIPANTS_SQL, params).fetchone()[0]
        completed = connection.execute(COMPLETED_SQL, params).fetchone()[0]
    stored = {(worker, position): choice for worker, position, choice in rows}
    lost = sum(1 for key, choice in tally.confirmed.items() if stored.get(key) != choice)
    return Audit(confirmed=len(tally.confirmed), stored=len(rows), lost=lost, doubled=doubled,
                 unconfirmed_stored=len(set(stored) - set(tally.confirmed)), completed=completed)


def ceiling_audit(db_url: str, tally: Tally, run: str) -> Audit:
    """The same comparison for the bare-insert rows of ``run`` (a retried insert is stored twice: nothing dedupes)."""
    import psycopg

    with psycopg.connect(db_url, connect_timeout=10) as connection:
        rows = connection.execute("SELECT client, sent FROM bench_ceiling WHERE run = %s", [run]).fetchall()
    stored = Counter((client, sent) for client, sent in rows)
    lost = sum(1 for key in tally.confirmed if key not in stored)
    doubled = sum(1 for count in stored.values() if count > 1)
    return Audit(confirmed=len(tally.confirmed), stored=len(rows), lost=lost, doubled=doubled,
                 unconfirmed_stored=len(set(stored) - set(tally.confirmed)), completed=0)
