"""Rate limits on the anonymous participant endpoints: per participant session and per client address.

Each endpoint belongs to a scope ("answer", "image", ...) whose limits, ``count`` requests per ``seconds``,
come from ``settings.EVALSITE_RATE_LIMITS``: one for the browser's session, one for its address. Requests
are counted in fixed windows in the Django cache, so the limits hold across gunicorn workers only when that
cache is shared (Redis: ``EVALSITE_CACHE_URL``). Over a limit the view is not called, so nothing is
written: the reply is 429 with ``Retry-After`` and a short message in the participant's language.

Researchers (logged-in users) are never refused: their pool pages show hundreds of thumbnails at once.
If the cache cannot be reached the request is let through: a participant's answer matters more than the limit.
"""
from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)

# The clock the windows are counted by (a test steps it to replay a participant's pace).
clock = time.time
# An IPv6 client usually holds a whole /64: counting its addresses one by one would let it walk past the limit.
IPV6_PREFIX = 64


def rate_limited(scope: str, methods: tuple[str, ...] | None = None):
    """Refuse requests over the limits of ``scope`` (only those with one of ``methods``, when given) with a 429."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if methods is None or request.method in methods:
                wait_s = wait_seconds(request, scope)
                if wait_s:
                    return too_many_requests(request, wait_s)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def wait_seconds(request: HttpRequest, scope: str) -> int:
    """Count this request in ``scope``; 0 when it is within every limit, else the seconds until it would be."""
    if not settings.EVALSITE_RATE_LIMITS_ENABLED:
        return 0
    limits = settings.EVALSITE_RATE_LIMITS[scope]
    clients = {"session": request.session.session_key, "ip": _counted_network(request)}
    windows = [Window.of(scope, kind, client, limits[kind], clock()) for kind, client in clients.items()
               if client and kind in limits]
    try:
        counts = _increment(windows)
    except Exception:  # the cache is down: serve the participant rather than refuse everyone
        logger.warning("rate limit cache unavailable; %s request let through", scope, exc_info=True)
        return 0
    wait_s = max((window.wait_s for window, count in zip(windows, counts) if count > window.limit), default=0)
    # Asked only over a limit: finding the user reads the session, which a request under every limit may never need.
    return wait_s if wait_s and not request.user.is_authenticated else 0


@dataclass(frozen=True)
class Window:
    """One client's count in one scope, for the fixed window that ``now`` falls in."""

    key: str
    limit: int
    seconds: int
    wait_s: int  # from now to the window's end

    @classmethod
    def of(cls, scope: str, kind: str, client: str, limit: tuple[int, int], now: float) -> "Window":
        count, seconds = limit
        index = int(now // seconds)
        digest = hashlib.sha256(client.encode()).hexdigest()[:24]  # session keys are secrets: never stored as such
        return cls(key=f"evalsite:ratelimit:{scope}:{kind}:{digest}:{seconds}:{index}", limit=count, seconds=seconds,
                   wait_s=max(1, math.ceil((index + 1) * seconds - now)))


def _increment(windows: list[Window]) -> list[int]:
    """Each window's count, this request included."""
    cache = caches[settings.EVALSITE_RATE_LIMIT_CACHE]
    if isinstance(cache, RedisCache):
        return _increment_in_redis(cache, windows)
    return [_increment_one(cache, window) for window in windows]


def _increment_in_redis(cache: RedisCache, windows: list[Window]) -> list[int]:
    # One round trip for all counters, where add() then incr() would take two per counter.
    with cache._cache.get_client(write=True).pipeline(transaction=False) as pipe:
        for window in windows:
            key = cache.make_and_validate_key(window.key)
            pipe.set(key, 0, ex=window.seconds + 1, nx=True)
            pipe.incr(key)
        return pipe.execute()[1::2]


def _increment_one(cache, window: Window) -> int:
    if cache.add(window.key, 1, timeout=window.seconds + 1):
        return 1
    try:
        return cache.incr(window.key)
    except ValueError:  # the window's key expired between add() and incr()
        cache.add(window.key, 1, timeout=window.seconds + 1)
        return 1


def client_address(request: HttpRequest) -> str:
    """The client's address: behind ``EVALSITE_PROXIES`` reverse proxies, the one the first proxy saw.

    Each proxy appends the address it was reached from to X-Forwarded-For, so the client is the entry that many
    places from the end; anything before it was written by the client and is not to be believed.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.EVALSITE_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    return address


def _counted_network(request: HttpRequest) -> str:
    """What the address limit counts: the client's IPv4 address or IPv6 /64; nothing for the machine itself.

    Requests from the loopback address are the demo's, a test client's, or those of a proxy on the same machine
    that EVALSITE_PROXIES does not declare: counting that proxy's address would put every participant of a study
    under one address's limit at once, so only their sessions are counted (and the operator is told).
    """
    address = client_address(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
        parsed = parsed.ipv4_mapped
    if parsed.is_loopback:
        _warn_of_an_undeclared_proxy(request)
        return ""
    if parsed.version == 4:
        return str(parsed)
    return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))


_warned = False


def _warn_of_an_undeclared_proxy(request: HttpRequest) -> None:
    global _warned
    if _warned or settings.EVALSITE_PROXIES or "HTTP_X_FORWARDED_FOR" not in request.META:
        return
    _warned = True
    logger.warning("Requests come from a proxy on this machine (X-Forwarded-For) but EVALSITE_PROXIES is 0: "
                   "clients' addresses are unknown, so rate limits count their sessions only (docs/deploy.md).")


def too_many_requests(request: HttpRequest, wait_s: int) -> HttpResponse:
    message = ngettext(
        "Too many requests. Please wait %(seconds)d second and try again.",
        "Too many requests. Please wait %(seconds)d seconds and try again.",
        wait_s,
    ) % {"seconds": wait_s}
    if "application/json" in request.headers.get("Accept", ""):
        # The runner's JSON endpoints answer refusals as {"recorded": false, "error"}; this one says when to retry.
        response = JsonResponse({"recorded": False, "error": message, "retry_after": wait_s}, status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait_s)
    add_never_cache_headers(response)
    return response
