"""gunicorn's configuration for evalsite: `gunicorn -c gunicorn.conf.py evalsite.wsgi` (docs/deploy.md).

Every value can be changed by an environment variable, like the site's own settings; gunicorn's command-line
options still win over this file.
"""
import multiprocessing
import os


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Where gunicorn listens. Behind a reverse proxy on the same machine, the loopback address is right.
bind = os.environ.get("EVALSITE_BIND", "127.0.0.1:8000").split(",")

# Participant requests are short database round trips, so a few sync processes per core keep a machine busy.
# More than one worker needs a shared cache for the rate limits (EVALSITE_CACHE_URL).
workers = _env_int("EVALSITE_WEB_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 12))
# "gthread" (with EVALSITE_WEB_THREADS > 1) keeps connections alive; "sync" serves one request per process.
worker_class = os.environ.get("EVALSITE_WEB_WORKER_CLASS", "sync")
threads = _env_int("EVALSITE_WEB_THREADS", 1)

# A worker silent this long is restarted. Uploads of whole pools are slow on slow links, which is why the reverse
# proxy must buffer request bodies (nginx does by default) before a sync worker sees them.
timeout = _env_int("EVALSITE_WEB_TIMEOUT", 120)
graceful_timeout = 30
keepalive = 5

# Set to replace each worker after about this many requests, should a slow memory leak ever show (0: never).
max_requests = _env_int("EVALSITE_WEB_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10

# The scheme comes from the proxy's X-Forwarded-Proto only when it connects from one of these addresses.
forwarded_allow_ips = os.environ.get("EVALSITE_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Errors go to stderr, for systemd or the container runtime to keep. The reverse proxy logs every request already;
# EVALSITE_ACCESS_LOG=- (stdout) or a file name makes gunicorn log them too.
accesslog = os.environ.get("EVALSITE_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("EVALSITE_LOG_LEVEL", "info").lower()

# Request size limits stay gunicorn's defaults (8 KiB request line, 100 headers); Django limits the bodies.


def on_starting(server) -> None:
    """Say so when several workers would each count the rate limits on their own."""
    shared = os.environ.get("EVALSITE_CACHE_URL")
    enabled = os.environ.get("EVALSITE_RATE_LIMITS_ENABLED", "").strip().lower()
    limited = enabled in {"", "1", "true", "yes", "on"}  # as evalsite.settings.env_bool reads it
    if server.cfg.workers > 1 and limited and not shared:
        server.log.warning(
            "%d workers without EVALSITE_CACHE_URL: each keeps its own rate-limit counters, so the limits are "
            "%d times as loose as configured. Point EVALSITE_CACHE_URL at Redis (docs/deploy.md).",
            server.cfg.workers, server.cfg.workers,
        )
