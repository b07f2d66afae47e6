"""Settings for evalsite, read from environment variables.

Every variable has an embedded default, so a fresh clone runs with no configuration:
SQLite under ``var/``, media under ``var/media``, Celery tasks executed in-process.
A deployment sets ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``EVALSITE_SECRET_KEY`` and friends.
"""
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("EVALSITE_VAR_DIR", BASE_DIR / "var"))


def _embedded_secret_key() -> str:
    """A per-checkout random key kept in var/, so the embedded default needs no configuration."""
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


# EVALSITE_ENV=production marks a deployment (docs/deploy.md): what would be unsafe there is an error at start-up,
# and the "Production" block below turns the HTTPS hardening on. Anything else is a typo, not a quiet development mode.
EVALSITE_ENV = os.environ.get("EVALSITE_ENV", "").strip().lower() or "development"
if EVALSITE_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"EVALSITE_ENV must be 'development' or 'production', not {EVALSITE_ENV!r}.")
PRODUCTION = EVALSITE_ENV == "production"


def _secret_key() -> str:
    key = os.environ.get("EVALSITE_SECRET_KEY", "")
    if key.strip():
        return key
    if PRODUCTION:
        # The embedded key is a file beside the code: a deployment must never sign sessions with it.
        raise ImproperlyConfigured(
            "EVALSITE_ENV=production needs EVALSITE_SECRET_KEY, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    return _embedded_secret_key()


SECRET_KEY = _secret_key()
DEBUG = env_bool("EVALSITE_DEBUG", False)
ALLOWED_HOSTS = env_list("EVALSITE_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("EVALSITE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "generation",
    "surveys",
    "analysis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "evalsite.urls"
WSGI_APPLICATION = "evalsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'evalsite.sqlite3'}",
        conn_max_age=int(os.environ.get("EVALSITE_DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("EVALSITE_DB_PREPARED", False):
    # Server-side parameter binding: psycopg prepares a statement the 5th time a connection runs it, and PostgreSQL
    # stops planning the participant queries on every request (bench/load.py --prepared: 10-15 % more answers/s).
    # Only worth it with persistent connections (EVALSITE_DB_CONN_MAX_AGE > 0), and not behind a pooler in
    # transaction mode (pgbouncer), which does not keep a connection's prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Participants answer concurrently: wait for the write lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "surveys:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Participant pages come in Japanese and English; the browser's language picks one.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("EVALSITE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Only a deployment collects static files (set EVALSITE_STATIC_ROOT and run collectstatic);
# otherwise WhiteNoise serves them straight from the apps' folders.
STATIC_ROOT = os.environ.get("EVALSITE_STATIC_ROOT") or None
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without collectstatic, WhiteNoise serves straight from the apps' static folders; with it, from STATIC_ROOT
# (hashed, compressed, cached for ever: the "Production" block below).
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

MEDIA_ROOT = Path(os.environ.get("EVALSITE_MEDIA_ROOT", VAR_DIR / "media"))
# MEDIA_URL is deliberately not routed: pool images reach browsers only through the opaque image view.
MEDIA_URL = "/media-not-served/"

# Uploads: a zip of a pool may be large, so Django streams it to a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("EVALSITE_MAX_UPLOAD_FILES", "2000"))

# Limits on what one pool import accepts.
EVALSITE_MAX_UPLOAD_BYTES = int(os.environ.get("EVALSITE_MAX_UPLOAD_BYTES", str(1024**3)))
EVALSITE_MAX_IMAGE_PIXELS = int(os.environ.get("EVALSITE_MAX_IMAGE_PIXELS", str(4096 * 4096)))
EVALSITE_MAX_IMPORT_FILES = int(os.environ.get("EVALSITE_MAX_IMPORT_FILES", "20000"))
EVALSITE_MAX_IMPORT_BYTES = int(os.environ.get("EVALSITE_MAX_IMPORT_BYTES", str(4 * 1024**3)))

# Training runs: each run's options, logs, sample grids and checkpoints live in a folder under here
# (on the worker: checkpoints are read by path, so workers that sample must see the same folder).
EVALSITE_RUNS_DIR = Path(os.environ.get("EVALSITE_RUNS_DIR", VAR_DIR / "runs"))
# A running training run reports progress at least every few seconds; one silent this long lost its
# worker, and may be taken over (resuming from its last checkpoint) or cancelled.
EVALSITE_RUN_STALE_AFTER_S = int(os.environ.get("EVALSITE_RUN_STALE_AFTER_S", str(15 * 60)))
# Bundled datasets ("bundled:photos", ...) are built here on first use, from packages on disk.
EVALSITE_DATASETS_DIR = Path(os.environ.get("EVALSITE_DATASETS_DIR", VAR_DIR / "datasets"))
# A torchvision-layout VGG-19 state dict for CRN's perceptual loss; without one a fixed random VGG is used.
EVALSITE_VGG19_WEIGHTS = os.environ.get("EVALSITE_VGG19_WEIGHTS", "")
# The installed Chromium that Kaleido drives for static chart images (SVG/PNG/PDF); none is ever downloaded.
EVALSITE_CHROMIUM = os.environ.get("EVALSITE_CHROMIUM", "/usr/bin/chromium")

# MTurk: the only hosts a worker's HIT may be submitted to (turkSubmitTo in the link); any other is refused,
# so that answers are never posted to a host chosen by whoever wrote the link. Scheme and host, exactly.
EVALSITE_MTURK_SUBMIT_HOSTS = env_list(
    "EVALSITE_MTURK_SUBMIT_HOSTS", ["https://www.mturk.com", "https://workersandbox.mturk.com"]
)

# --- Production: security, static files, media storage, cache, rate limits (docs/deploy.md) ---------------------
# Everything here has a default that suits the embedded one-machine setup; a deployment sets EVALSITE_ENV=production
# and the variables below. `manage.py check --deploy` is clean under such a configuration (tests/deploy/).
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("EVALSITE_DEBUG must be off when EVALSITE_ENV=production: debug pages show settings "
                               "and code to anyone.")
if PRODUCTION and not os.environ.get("EVALSITE_ALLOWED_HOSTS"):
    raise ImproperlyConfigured("EVALSITE_ENV=production needs EVALSITE_ALLOWED_HOSTS: the host names participants "
                               "reach the site by, comma-separated.")

# Reverse proxies in front of gunicorn (nginx, a load balancer). With one or more, the scheme is read from
# X-Forwarded-Proto and a client's address from X-Forwarded-For (evalsite/ratelimit.py), so the proxies must set
# both, overwriting what clients send. 0: clients reach gunicorn directly.
EVALSITE_PROXIES = int(os.environ.get("EVALSITE_PROXIES", "0"))
if EVALSITE_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# HTTPS hardening: on by default in production; a deployment served over plain HTTP says EVALSITE_HTTPS=false.
EVALSITE_HTTPS = env_bool("EVALSITE_HTTPS", PRODUCTION)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = EVALSITE_HTTPS
SECURE_SSL_REDIRECT = EVALSITE_HTTPS and env_bool("EVALSITE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("EVALSITE_HSTS_SECONDS", str(365 * 24 * 3600))) if EVALSITE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("EVALSITE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("EVALSITE_HSTS_PRELOAD", False)
# Both commit more than this site (every subdomain; the browsers' built-in lists), so each is the operator's opt-in
# above; check --deploy's reminder of one left off would only repeat that choice.
SILENCED_SYSTEM_CHECKS = [
    check for check, chosen in (("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS), ("security.W021", SECURE_HSTS_PRELOAD))
    if not chosen
]
SECURE_CONTENT_TYPE_NOSNIFF = True
# A survey's link (its slug) never leaves with a participant sent on to Prolific or MTurk.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # the crowd pages lift it for MTurk's frame alone (surveys/views.py)


# Media: a local folder (EVALSITE_MEDIA_ROOT), or an S3-compatible bucket when EVALSITE_S3_BUCKET is set. The bucket
# stays private: browsers get pool images only through the opaque image view, which streams them.
def media_storage(environ) -> dict:
    """The default storage that ``environ`` (the process's environment) configures."""
    if not environ.get("EVALSITE_S3_BUCKET"):
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}  # at MEDIA_ROOT, read when used
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": environ["EVALSITE_S3_BUCKET"],
            "endpoint_url": environ.get("EVALSITE_S3_ENDPOINT_URL") or None,  # None: AWS itself
            "region_name": environ.get("EVALSITE_S3_REGION") or None,
            # None: boto3's own chain (AWS_ACCESS_KEY_ID, ~/.aws, an instance role).
            "access_key": environ.get("EVALSITE_S3_ACCESS_KEY_ID") or None,
            "secret_key": environ.get("EVALSITE_S3_SECRET_ACCESS_KEY") or None,
            "location": environ.get("EVALSITE_S3_PREFIX", ""),
            "default_acl": None,  # objects are as private as the bucket; never public-read
            "querystring_auth": True,  # a URL made of a stored file is signed and expires
            "signature_version": "s3v4",  # what every AWS region and S3-compatible server accepts
            "file_overwrite": False,  # two uploads named alike (uploads/upload.zip) must not replace each other
        },
    }


STORAGES = {
    "default": media_storage(os.environ),
    # After collectstatic (EVALSITE_STATIC_ROOT): content-hashed names, gzip and brotli copies, and WhiteNoise
    # serves the hashed files with a ten-year immutable max-age.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_ROOT else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The cache holds the rate-limit counters. The embedded default is per process; a deployment with several gunicorn
# workers (or machines) sets EVALSITE_CACHE_URL=redis://..., else each worker counts on its own.
EVALSITE_CACHE_URL = os.environ.get("EVALSITE_CACHE_URL", "")
if EVALSITE_CACHE_URL and not EVALSITE_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"EVALSITE_CACHE_URL must be a redis://, rediss:// or unix:// URL, not {EVALSITE_CACHE_URL!r}.")
if EVALSITE_CACHE_URL:
    # Short timeouts: a participant's request must not hang on a cache that went away (ratelimit.py lets it through).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": EVALSITE_CACHE_URL,
                          "KEY_PREFIX": "evalsite", "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    # Sessions read from the shared cache, written through to the database: every participant request reads its
    # session, and a Redis GET costs less than a query. A cache that fails to answer falls back to the database.
    # (Not with the per-process default cache: another process's copy of a session would go stale.)
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    # LocMem's default 300 entries would evict the counters of a busy survey.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}}

# Rate limits on the participant endpoints (evalsite/ratelimit.py): (requests, per seconds) for each browser session
# and for each client address (an IPv6 /64). A lab's participants share an address, so those limits are ~20 sessions'
# worth. A real participant stays far below them (tests/deploy/test_rate_limits.py replays one faster than any
# human can answer); a script does not. EVALSITE_RATE_LIMITS overrides some, e.g. "answer.session=300/60,image.ip=
# 20000/60"; EVALSITE_RATE_LIMITS_ENABLED=false turns them all off (load benchmarks).
RATE_LIMIT_DEFAULTS = {
    "page": {"session": (240, 60), "ip": (2400, 60)},  # welcome, instructions, trial, done: one per answer without JS
    "start": {"session": (10, 60), "ip": (60, 60)},  # consent given: a participant and all their trials are written
    "trials": {"session": (60, 60), "ip": (1200, 60)},  # the runner's GET trials/
    "answer": {"session": (180, 60), "ip": (3600, 60)},  # one per trial, plus the runner's retries
    "check": {"session": (20, 60), "ip": (600, 60)},  # the device check, once per trial page and per "check again"
    "image": {"session": (600, 60), "ip": (12000, 60)},  # every trial's one or two images, preloaded
}


def _rate_limits(overrides: str) -> dict[str, dict[str, tuple[int, int]]]:
    limits = {scope: dict(kinds) for scope, kinds in RATE_LIMIT_DEFAULTS.items()}
    for item in filter(None, (part.strip() for part in overrides.split(","))):
        target, _, value = item.partition("=")
        scope, _, kind = target.strip().partition(".")
        count, _, seconds = value.strip().partition("/")
        if scope not in limits or kind not in ("session", "ip") or not (count.isdigit() and seconds.isdigit()) \
                or int(count) < 1 or int(seconds) < 1:
            raise ImproperlyConfigured(
                f"EVALSITE_RATE_LIMITS: cannot read {item!r}; write SCOPE.session=COUNT/SECONDS or "
                f"SCOPE.ip=COUNT/SECONDS, SCOPE one of {', '.join(limits)}."
            )
        limits[scope][kind] = (int(count), int(seconds))
    return limits


EVALSITE_RATE_LIMITS_ENABLED = env_bool("EVALSITE_RATE_LIMITS_ENABLED", True)
EVALSITE_RATE_LIMITS = _rate_limits(os.environ.get("EVALSITE_RATE_LIMITS", ""))
EVALSITE_RATE_LIMIT_CACHE = "default"

# Celery: the embedded default runs tasks in-process; a deployment points CELERY_BROKER_URL at Redis.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("EVALSITE_TASKS_EAGER", CELERY_BROKER_URL == "memory://")
# In-process tasks that take minutes (training, sampling) run in a background thread of the web process,
# so that the page which queued them returns at once. Tests turn this off to run them synchronously.
EVALSITE_BACKGROUND_THREADS = env_bool("EVALSITE_BACKGROUND_THREADS", CELERY_TASK_ALWAYS_EAGER)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = int(os.environ.get("EVALSITE_TASK_TIME_LIMIT", str(6 * 3600)))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - min(60, CELERY_TASK_TIME_LIMIT // 10)
# A training task stops with a checkpoint after this long and queues its own continuation, so that no task
# outlives the time limit however long the training (the published runs trained for over 100 hours).
EVALSITE_TRAINING_SLICE_S = int(
    os.environ.get(
        "EVALSITE_TRAINING_SLICE_S", str(CELERY_TASK_SOFT_TIME_LIMIT - min(600, CELERY_TASK_SOFT_TIME_LIMIT // 10))
    )
)
# Workers on GPU machines consume `gpu` (training, sampling); every other task goes to `default` (docs/workers.md).
# A worker started without -Q consumes both.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name} for name in ("default", "gpu")}
CELERY_TASK_ROUTES = {
    "generation.tasks.training_run_task": {"queue": "gpu"},
    "generation.tasks.pool_generate_task": {"queue": "gpu"},
    "generation.tasks.pool_import_task": {"queue": "default"},
}
# A task is acknowledged when it ends, not when it starts: the broker hands the task of a worker that died
# (killed, out of memory, machine lost) to another one; the tasks are idempotent, so a second delivery is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time per worker process: a queued training must not wait behind a running one on a busy worker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis hands an unacknowledged task out again after this long. It must outlast the longest task (the hard
# time limit; training continues in new tasks), or a task still running would run twice; it is also how long
# the task of a worker that died waits before another worker takes it. Tests shorten it.
EVALSITE_VISIBILITY_TIMEOUT_S = int(
    os.environ.get("EVALSITE_VISIBILITY_TIMEOUT_S", str(CELERY_TASK_TIME_LIMIT + 15 * 60))
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": EVALSITE_VISIBILITY_TIMEOUT_S,
    # Workers look for such tasks every tenth of the timeout (every 10 s at most; kombu's default is ~100 s).
    "unacked_restore_interval": max(1, min(10, EVALSITE_VISIBILITY_TIMEOUT_S // 10)),
    "unacked_restore_throttle": 1,
    # The lock a worker holds while it looks: one killed meanwhile must not stop the others looking for long.
    "unacked_mutex_expire": min(300, EVALSITE_VISIBILITY_TIMEOUT_S),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("EVALSITE_LOG_LEVEL", "INFO")},
    # Kaleido and its browser driver narrate every tab of a static chart export at INFO.
    "loggers": {name: {"level": "WARNING"} for name in ("kaleido", "choreographer", "logistro")},
}
