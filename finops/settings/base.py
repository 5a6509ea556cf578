"""The one settings module, driven by the environment.

With nothing set it runs the embedded default: SQLite under ``var/``, Celery tasks
run eagerly in-process, e-mail written to files under ``var/``. With ``DATABASE_URL``,
``CELERY_BROKER_URL`` and ``EMAIL_URL`` it runs on PostgreSQL, Redis and SMTP.
A production start (``DEBUG`` off) without ``SECRET_KEY``, ``ALLOWED_HOSTS`` or ``DATABASE_URL`` fails at
boot. ``.env.example`` lists every variable read here.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("TOKENCAST_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)
# A production start (DEBUG off) needs these from the environment; it fails here, naming every one missing.
_REQUIRED_IN_PRODUCTION = {
    "SECRET_KEY": "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
    "ALLOWED_HOSTS": "the host names the site is served under, comma-separated, e.g. tokencast.example.com",
    "DATABASE_URL": "the PostgreSQL database, e.g. postgres://tokencast:PASSWORD@db.example.com:5432/tokencast",
}
_missing_in_production = [name for name in _REQUIRED_IN_PRODUCTION if not env.str(name, default="").strip()]
if not DEBUG and _missing_in_production:
    raise ImproperlyConfigured(
        f"A production start (DEBUG=false) needs {', '.join(_missing_in_production)} in the environment:\n"
        + "".join(f"  {name}: {_REQUIRED_IN_PRODUCTION[name]}\n" for name in _missing_in_production)
        + "See .env.example and deploy/production.env.example (or set DEBUG=true for a local development run)."
    )
_DEV_SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or _DEV_SECRET_KEY
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "finops",
    "ingest",
    "forecasting",
    "planning",
]

MIDDLEWARE = [
    "finops.request_id.RequestIdMiddleware",
    # Answers /healthz and /readyz before the Host header is checked against ALLOWED_HOSTS (probes use the pod IP).
    "finops.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "finops.urls"
WSGI_APPLICATION = "finops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tokencast.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Uploads: the size limit applies to every path (API, admin, CLI).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=2 * 1024**3)
# Cap on what a .gz or .zip upload may expand to (zip/gzip bomb guard).
UPLOAD_MAX_EXPANDED_BYTES = env.int("UPLOAD_MAX_EXPANDED_BYTES", default=20 * 1024**3)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
# Where uploads are kept (the "uploads" storage, ingest/storage.py): local disk under MEDIA_ROOT, which web and
# ingest workers must share, or S3-compatible object storage (UPLOAD_STORAGE=s3), which needs no shared disk.
UPLOAD_STORAGE = env.str("UPLOAD_STORAGE", default="local").strip().lower()
if UPLOAD_STORAGE == "local":
    _UPLOADS_STORAGE: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif UPLOAD_STORAGE == "s3":
    from boto3.s3.transfer import TransferConfig

    # Memory per transfer stays bounded: 8 MiB parts, two sent at once and two more read ahead when writing (an
    # s3transfer attribute boto3 takes no argument for), 32 x 256 KiB queued when reading: about 28 MiB per upload
    # being kept (68 MiB with boto3's defaults) and 9 MiB per object read back (tests/ingest/test_object_storage.py).
    _S3_TRANSFER = TransferConfig(multipart_chunksize=8 * 1024**2, max_concurrency=2, max_io_queue=32)
    _S3_TRANSFER.max_in_memory_upload_chunks = 2
    _UPLOADS_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),  # required: boot fails without it
            "location": env.str("AWS_LOCATION", default=""),  # a key prefix inside the bucket
            # Unset: Amazon S3. Set for MinIO, Ceph, Cloudflare R2 and other S3-compatible services.
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,  # "path" for most non-AWS
            # Unset: boto3's own chain (AWS_* variables, an instance or pod role, ~/.aws).
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,  # private objects; the bucket's policy applies
            # Kept as the bytes received: no Content-Encoding guessed from a .gz name.
            "object_parameters": {"ContentType": "application/octet-stream"},
            "transfer_config": _S3_TRANSFER,
            "max_memory_size": 8 * 1024**2,  # storage.open() of an object spools to disk past 8 MiB
        },
    }
else:
    raise ImproperlyConfigured(f"UPLOAD_STORAGE must be local or s3, not {UPLOAD_STORAGE!r}")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "uploads": _UPLOADS_STORAGE,
}

# E-mail: EMAIL_URL (smtp://user:pass@host:port) or files under var/mail.
_email_url = env.str("EMAIL_URL", default="")
if _email_url:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tokencast@localhost")
# Where people reach this service: links in e-mails (invitations, alerts) start with it.
TOKENCAST_BASE_URL = env.str("TOKENCAST_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Celery: eager in-process unless a broker is configured.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "ingest.tasks.*": {"queue": "ingest"},
    "forecasting.tasks.*": {"queue": "forecasting"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task a dead worker held is handed out again after this many seconds (Redis); it must exceed
# the longest ingest, or a slow ingest would run twice (safely, but wastefully).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600)}
# Beat (``celery -A finops beat``): every organization's forecasts are refreshed nightly at 02:00 UTC.
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "refresh-forecasts-nightly": {
        "task": "forecasting.tasks.refresh_all_forecasts",
        "schedule": crontab(hour=2, minute=0),
    },
    "evaluate-alerts-daily": {
        "task": "planning.tasks.evaluate_all_alerts",
        "schedule": crontab(hour=6, minute=0),
    },
    "retry-alert-deliveries": {
        "task": "planning.tasks.retry_due_deliveries",
        "schedule": crontab(minute="*/5"),
    },
    # Hourly, so each organization's 1st (in its own time zone) is seen; a delivery record per owner and month
    # makes every run after the first harmless.
    "send-forecast-emails-hourly": {
        "task": "planning.tasks.send_due_forecast_emails",
        "schedule": crontab(minute=7),
    },
}

# Forecast refresh after uploads, debounced: a burst of uploads gives one run, this many seconds after the
# last one. Off by default in the embedded mode (eager Celery has no countdown: it would run per file).
FORECAST_REFRESH_AFTER_INGEST = env.bool("FORECAST_REFRESH_AFTER_INGEST", default=not CELERY_TASK_ALWAYS_EAGER)
FORECAST_REFRESH_DEBOUNCE_SECONDS = env.int("FORECAST_REFRESH_DEBOUNCE_SECONDS", default=300)

# Cache: request throttles count here. CACHE_URL (e.g. redis://host:6379/1) shares the counts between processes
# and machines; the default keeps them per process.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "finops.api.schema.ApiAutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "finops.api.pagination.ApiPagination",
    "PAGE_SIZE": 100,
    # ?format=csv / ?format=xlsx export any list or summary; the override is read from the query string only.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
        "finops.api.renderers.CSVRenderer",
        "finops.api.renderers.XLSXRenderer",
    ],
    "URL_FORMAT_OVERRIDE": "format",
    "EXCEPTION_HANDLER": "finops.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["finops.api.throttling.UserThrottle", "finops.api.throttling.AnonThrottle"],
    # "N/second|minute|hour|day"; each has an environment override.
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER_RATE", default="6000/hour"),
        "anon": env.str("THROTTLE_ANON_RATE", default="300/hour"),
        "login": env.str("THROTTLE_LOGIN_RATE", default="10/minute"),
        "forecast_create": env.str("THROTTLE_FORECAST_CREATE_RATE", default="30/hour"),
        "upload_create": env.str("THROTTLE_UPLOAD_CREATE_RATE", default="300/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tokencast API",
    "DESCRIPTION": "Token FinOps: ledger, uploads and forecasts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CurrencyEnum": "finops.models.CURRENCY_CHOICES",
        "ForecastRunStatusEnum": "forecasting.models.ForecastRun.Status",
        "UploadStatusEnum": "ingest.models.Upload.Status",
    },
}

# Logs go to stderr, as text (the default) or as one JSON object per line (LOG_FORMAT=json), every line with the
# request id (finops.request_id) and, inside a Celery task, the task's id and name. Workers and beat use this too.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {
            "()": "finops.request_id.RequestContextFilter",
            "missing": None if LOG_FORMAT == "json" else "-",
        },
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "message", "request_id", "task_id", "task_name"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    "loggers": {"cmdstanpy": {"level": "WARNING"}, "prophet": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
