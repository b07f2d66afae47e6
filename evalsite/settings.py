"""Settings for evalsite, read from environment variables.

Every variable has an embedded default, so a fresh clone runs with no configuration:
SQLite under ``var/``, media under ``var/media``, Celery tasks executed in-process.
A deployment sets ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``EVALSITE_SECRET_KEY`` and friends.
"""
import os
import secrets
from pathlib import Path

import dj_database_url

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


SECRET_KEY = os.environ.get("EVALSITE_SECRET_KEY") or _embedded_secret_key()
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
WHITENOISE_USE_FINDERS = True  # serve straight from the apps' static folders without collectstatic

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

# MTurk: the only hosts a worker's HIT may be submitted to (turkSubmitTo in the link); any other is refused,
# so that answers are never posted to a host chosen by whoever wrote the link. Scheme and host, exactly.
EVALSITE_MTURK_SUBMIT_HOSTS = env_list(
    "EVALSITE_MTURK_SUBMIT_HOSTS", ["https://www.mturk.com", "https://workersandbox.mturk.com"]
)

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
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("EVALSITE_LOG_LEVEL", "INFO")},
}
