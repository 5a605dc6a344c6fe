"""Settings of one node. Everything comes from the environment; the node's place is configuration, not code.

Development defaults (SQLite, tasks run in-process) need no services. Production sets HC_ENV=production,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL and CELERY_BROKER_URL.
"""

import json
from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from config.env import database_from_url, env_bool, env_int, env_list, env_str, secret_from_file

BASE_DIR = Path(__file__).resolve().parent.parent

# --- This node -------------------------------------------------------------------------------------
HC_ENV = env_str("HC_ENV", "development")
PRODUCTION = HC_ENV == "production"
HC_TIER = env_str("HC_TIER", "city")  # ministry | province | city
HC_REGION = env_str("HC_REGION", "610100")  # GB/T 2260 code this node serves; the nation is 100000
HC_PARENT_URL = env_str("HC_PARENT_URL", "")
# Where this node keeps its state outside the database: keys, the SQLite file in development.
HC_VAR_DIR = Path(env_str("HC_VAR_DIR", str(BASE_DIR / "var" / "node")))
# The node's Ed25519 signing key (PEM). Never stored in the database.
HC_NODE_KEY_FILE = Path(env_str("HC_NODE_KEY_FILE", str(HC_VAR_DIR / "node_ed25519.pem")))
# Personal-data keys: HC_DATA_KEYS (JSON {"kid": "base64 key", ...}) or a file of the same JSON.
HC_DATA_KEYS = env_str("HC_DATA_KEYS", "")
HC_DATA_KEYS_FILE = Path(env_str("HC_DATA_KEYS_FILE", str(HC_VAR_DIR / "data_keys.json")))
HC_DATA_KEY_ACTIVE = env_str("HC_DATA_KEY_ACTIVE", "")  # default: the newest key in the set
# The CJK TrueType font embedded in printed PDFs (a .ttf or a TrueType-outline .ttc).
HC_PDF_FONT = env_str("HC_PDF_FONT", "")
HC_PDF_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    str(BASE_DIR / "registry" / "fonts" / "wqy-microhei.ttc"),
]
# Exports above this many rows run as background jobs with progress.
HC_EXPORT_SYNC_LIMIT = env_int("HC_EXPORT_SYNC_LIMIT", 20000)
# How long a signed blacklist/whitelist file says it is good for (its next-update time), in hours.
HC_LIST_NEXT_UPDATE_HOURS = env_int("HC_LIST_NEXT_UPDATE_HOURS", 24)
# Partner interfaces (exchange.hospital): rate limits per institution ("default", an institution code, or a
# scope such as "selfquery"), as HC_HOSPITAL_RATE_LIMITS='{"default": "1200/min", "12610113...": "6000/min"}'.
HC_HOSPITAL_RATE_LIMITS = {
    "default": "1200/min",
    "selfquery": "5/hour",
    **json.loads(env_str("HC_HOSPITAL_RATE_LIMITS", "{}")),
}
HC_IDEMPOTENCY_TTL_HOURS = env_int("HC_IDEMPOTENCY_TTL_HOURS", 24)
# Institution codes whose API keys belong to the regional health information platform (bulk uploads).
HC_REGIONAL_PLATFORMS = env_list("HC_REGIONAL_PLATFORMS")
# Personal self-query: where one-time codes go ("console" in development) and how long they live.
HC_SMS_BACKEND = env_str("HC_SMS_BACKEND", "exchange.hospital.sms.ConsoleSmsBackend")
HC_SELFQUERY_CODE_MINUTES = env_int("HC_SELFQUERY_CODE_MINUTES", 5)
# Electronic health card: minutes a dynamic QR code stays valid.
HC_EHC_CODE_MINUTES = env_int("HC_EHC_CODE_MINUTES", 5)

# --- Django core ------------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or (
    "" if PRODUCTION else secret_from_file(HC_VAR_DIR / "django_secret_key")
)
if PRODUCTION and not SECRET_KEY:
    raise RuntimeError(
        "DJANGO_SECRET_KEY must be set when HC_ENV=production / 生产环境必须设置 DJANGO_SECRET_KEY"
    )
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

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
    "registry",
    "institutions",
    "cards",
    "sam",
    "vendors",
    "stats",
    "exchange",
    "terminals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "registry.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # Static files (the admin's CSS, the docs UI) straight from gunicorn: these networks have no CDN.
    # Development serves them with runserver.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "registry.User"
LOGIN_URL = "admin:login"

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
                "registry.context_processors.node",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{HC_VAR_DIR / 'db.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time: Chinese first, dates in Asia/Shanghai ----------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed copies served by WhiteNoise in production; plain files while developing.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(HC_VAR_DIR / "media")))
MEDIA_URL = "media/"

# --- Security (production) ----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Cookies ignore the port: three nodes on one host must not share a login.
SESSION_COOKIE_NAME = f"hc_{HC_TIER}_{HC_REGION}_session"
CSRF_COOKIE_NAME = f"hc_{HC_TIER}_{HC_REGION}_csrftoken"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging: structured enough to grep, never personal data -----------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "registry.protection.RedactPersonalData"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING", "propagate": True}},
}

# --- REST API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["registry.api.permissions.ScopedModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "registry.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "registry.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "居民健康卡注册管理平台 API / Resident Health Card platform API",
    "DESCRIPTION": "Staff API (session or token) and hospital API (request-signed) of one node.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status"; each choice set gets its own schema name.
    "ENUM_NAME_OVERRIDES": {
        # Centres and the institution registers share one choice set (active / deregistered).
        "RegisterStatusEnum": "registry.choices.CentreStatus",
        "CredentialStatusEnum": "institutions.choices.CredentialStatus",
        "ImportJobStatusEnum": "registry.models.imports.ImportJobStatus",
        "ExportJobStatusEnum": "registry.choices.ExportJobStatus",
        "FilingStatusEnum": "vendors.choices.FilingStatus",
        "ActualUseStatusEnum": "vendors.choices.ActualUseStatus",
        "ApplicationChannelEnum": "cards.choices.ApplicationChannel",
        "EventChannelEnum": "registry.choices.Channel",
        "DocumentTypeEnum": "cards.choices.DocumentType",
        "ContactRelationEnum": "cards.choices.ContactRelation",
        "AddressTypeEnum": "cards.choices.AddressType",
        "ReviewDecisionEnum": "cards.choices.ReviewDecision",
        "SamApplicationStatusEnum": "sam.choices.SamApplicationStatus",
        "SamPlanStatusEnum": "sam.choices.SamPlanStatus",
        "SamStatusEnum": "sam.choices.SamStatus",
        "SamShipmentStatusEnum": "sam.choices.SamShipmentStatus",
        "SamUseScenarioEnum": "sam.choices.UseScenario",
        "CardUseScenarioEnum": "cards.models.uses.CardUseScenario",
        "CardStatusEnum": "cards.choices.CardStatus",
    },
    # The networks these nodes run on are closed: the docs UI is served from our own static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Cache: shared by every web process (nonces of signed calls, rate limits). Redis in production. ---------
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    # One process per node in the demo; production must set CACHE_URL (registry's deploy check says so).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hc"}}

# --- Tasks: Celery on Redis in production, in-process without a broker -------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task repeats it, never drops it
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tier sync (exchange): the full run nightly at 02:00 (CELERY_TIMEZONE, i.e. Asia/Shanghai), small pushes
# every few minutes, quarantined bundles retried, reconciliation weekly.
CELERY_BEAT_SCHEDULE: dict = {
    "sync-full-nightly": {"task": "exchange.tasks.sync_full_task", "schedule": crontab(hour=2, minute=0)},
    "sync-push-often": {
        "task": "exchange.tasks.sync_push_task",
        "schedule": float(env_int("HC_SYNC_PUSH_SECONDS", 300)),
    },
    "sync-pull-often": {
        "task": "exchange.tasks.sync_pull_task",
        "schedule": float(env_int("HC_SYNC_PULL_SECONDS", 900)),
    },
    "sync-quarantine-retry": {"task": "exchange.tasks.quarantine_retry_task", "schedule": 600.0},
    "sync-reconcile-weekly": {
        "task": "exchange.tasks.sync_reconcile_task",
        "schedule": crontab(hour=3, minute=30, day_of_week="sun"),
    },
    # Asia/Shanghai (CELERY_TIMEZONE): ended ineligibility periods come off the blacklist after midnight.
    "list-expire-due": {
        "task": "registry.tasks.list_expire_due_task",
        "schedule": crontab(hour=0, minute=10),
    },
    # Folds case-history events written in bulk (no signal) into the statistics' daily counts.
    "stats-fold": {"task": "stats.tasks.stats_fold_task", "schedule": 60.0},
}
