"""
Django settings for the Encore project.

Every value that differs between machines comes from the environment, or from
a ``.env`` file next to manage.py (see ``.env.example`` at the repository
root). Variables already set in the environment win over the file.
"""
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")


# Core

# Off unless the environment turns it on (.env.example does, for your own machine): a server
# that forgets its settings fails closed, with no detailed error pages.
DEBUG = env.bool("DEBUG", default=False)
# Required, except where DEBUG is on: there a throwaway key will do.
SECRET_KEY = env("SECRET_KEY", default=None) or (
    "django-insecure-encore-dev-key-do-not-use-in-production" if DEBUG else None
)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set and DEBUG is off. Set SECRET_KEY in the environment or in "
        ".env (see .env.example), or DEBUG=True on your own machine."
    )
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"]
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "feedback",
    "music",
    "search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"


# Database

DATABASES = {
    # as_posix() keeps the URL valid on Windows too.
    "default": env.db_url(
        "DATABASE_URL",
        default=f"sqlite:///{(BASE_DIR / 'db.sqlite3').as_posix()}",
    ),
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]


# Internationalization

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True


# Static files

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]


# Email
# EMAIL_URL sets the backend and, for SMTP, the host, port, user and password,
# e.g. smtp+tls://you%40gmail.com:app-password@smtp.gmail.com:587

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", default="Encore <noreply@encore.example>"
)


# Logging: print the apps' logger.info(...) messages in the runserver output.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Django prints its own records with its own handlers: skip them here.
        "not_django": {
            "()": "django.utils.log.CallbackFilter",
            "callback": lambda record: record.name.split(".")[0] != "django",
        },
    },
    "formatters": {
        "simple": {"format": "{levelname} {name}: {message}", "style": "{"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["not_django"],
            "formatter": "simple",
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}


# Encore

# The broker that Celery will use, from exercise 01 on.
REDIS_URL = env("REDIS_URL", default="redis://localhost:6379/0")

# The playlist API that registration asks for an artist's genres.
SPOTIFY_API_URL = env("SPOTIFY_API_URL", default="http://127.0.0.1:8001/genres")
SPOTIFY_API_TIMEOUT = env.float("SPOTIFY_API_TIMEOUT", default=5.0)

# Seconds the feedback email takes to "send": a stand-in for a slow mail server.
FEEDBACK_EMAIL_DELAY = env.float("FEEDBACK_EMAIL_DELAY", default=5.0)

# Seconds the search index spends on each album when it is rebuilt.
SEARCH_INDEX_DELAY = env.float("SEARCH_INDEX_DELAY", default=0.5)

# Addresses that receive the weekly digest of new albums.
DIGEST_RECIPIENTS = env.list("DIGEST_RECIPIENTS", default=[])


# Celery
# ------
# Celery reads every setting below through namespace="CELERY" (config/celery.py):
# CELERY_BROKER_URL becomes broker_url, and so on.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html

# Where tasks wait until a worker takes them.
CELERY_BROKER_URL = REDIS_URL
# Where workers store what tasks return, so the web process can read it.
CELERY_RESULT_BACKEND = REDIS_URL
# TODO(exercise 06): CELERY_BEAT_SCHEDULE, the tasks beat sends on a schedule, goes here.
# TODO(exercise 07): and CELERY_TIMEZONE, the zone beat reads crontab times in.
# TODO(exercise 08): switch task events on here, so that Flower can see every task.
# TODO(exercise 10): acknowledge late, one message at a time, and an explicit visibility
# timeout, so that a worker that dies loses no task.
# TODO(exercise 12): bound how long .delay() may wait for Redis before it gives up.
