"""Coffer's one settings module.

Every knob comes from a ``PORTAL_*`` environment variable with a safe default.
With nothing set, Coffer runs embedded: SQLite and a local storage folder under
``./var/``, and Celery over a SQLite broker, so no other server is needed.
The README's "Configuration" section lists every variable.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.core.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY", VAR_DIR / "secret_key")
# Encrypts secrets the portal keeps for others (device keys, 2FA seeds).
MASTER_KEY = env_secret("MASTER_KEY", VAR_DIR / "master_key")
if not DEBUG and not (SECRET_KEY and MASTER_KEY):
    raise ImproperlyConfigured(
        "PORTAL_SECRET_KEY and PORTAL_MASTER_KEY must be set when PORTAL_DEBUG is off "
        f"(or run `make run`, which writes them to {VAR_DIR} on first start)."
    )
if DEBUG and not SECRET_KEY:
    SECRET_KEY = "insecure-debug-only-key-" + "x" * 40

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PUBLIC_URL = env_str("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "portal.core",
    "portal.storage",
    "portal.accounts",
    "portal.spaces",
    "portal.files",
    "portal.audit",
    "portal.api",
    "portal.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.audit.middleware.RequestContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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

# --- Database -------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'coffer.sqlite3'}")
# Persistent connections save ~10 ms a request on PostgreSQL; checked before reuse.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
                                              conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Web, worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, cache -------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache")}}
    CELERY_BROKER_URL = f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "expire-uploads": {"task": "files.sweep_uploads", "schedule": 15 * 60},
    "purge-trash": {"task": "files.purge_expired_trash", "schedule": 60 * 60},
    "apply-version-retention": {"task": "files.apply_version_retention", "schedule": 6 * 60 * 60},
    "collect-blobs": {"task": "files.collect_unused_blobs", "schedule": 60 * 60},
    "sweep-orphan-objects": {"task": "files.sweep_orphan_objects", "schedule": 6 * 60 * 60},
}

# --- Object storage ---------------------------------------------------------
STORAGE_BACKEND = env_str("STORAGE", "local")
if STORAGE_BACKEND not in {"local", "s3"}:
    raise ImproperlyConfigured(f"PORTAL_STORAGE={STORAGE_BACKEND!r}: use 'local' or 's3'.")
STORAGE_ROOT = Path(env_str("STORAGE_ROOT", str(VAR_DIR / "storage"))).resolve()
S3_ENDPOINT = env_str("S3_ENDPOINT", "")
S3_BUCKET = env_str("S3_BUCKET", "coffer")
S3_REGION = env_str("S3_REGION", "us-east-1")
S3_ACCESS_KEY = env_str("S3_ACCESS_KEY", "")
S3_SECRET_KEY = env_str("S3_SECRET_KEY", "")
S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE", "path")
# Presigned (and locally signed) URLs never live longer than this.
PRESIGN_SECONDS = min(env_int("PRESIGN_SECONDS", 300), 300)
if STORAGE_BACKEND == "s3" and not (S3_ENDPOINT or S3_ACCESS_KEY):
    raise ImproperlyConfigured("PORTAL_STORAGE=s3 needs PORTAL_S3_ENDPOINT (or AWS) and PORTAL_S3_ACCESS_KEY.")

# --- Accounts, sign-in, tokens ---------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
# Lock out a username from one address, so one attacker cannot lock a user out everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.accounts.signin.lockout_response"
AXES_IPWARE_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0) or None
AXES_VERBOSE = False
TOKEN_DEFAULT_DAYS = env_int("TOKEN_DEFAULT_DAYS", 90)
TOKEN_MAX_DAYS = env_int("TOKEN_MAX_DAYS", 365)
# Number of reverse proxies in front of the portal whose X-Forwarded-For is trusted.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- Spaces ----------------------------------------------------------------
DEFAULT_SPACE_QUOTA = env_int("DEFAULT_SPACE_QUOTA", 10 * 1024**3)
DEFAULT_PERSONAL_QUOTA = env_int("DEFAULT_PERSONAL_QUOTA", 5 * 1024**3)

# --- Files ---------------------------------------------------------------------
MAX_FILE_SIZE = env_int("MAX_FILE_SIZE", 100 * 1024**3)
UPLOAD_PART_SIZE = env_int("UPLOAD_PART_SIZE", 16 * 1024**2)
UPLOAD_SESSION_HOURS = env_int("UPLOAD_SESSION_HOURS", 24)
TRASH_DAYS = env_int("TRASH_DAYS", 30)
KEEP_VERSIONS = env_int("KEEP_VERSIONS", 100)
KEEP_VERSION_DAYS = env_int("KEEP_VERSION_DAYS", 0)  # 0: keep regardless of age
ORPHAN_GRACE_HOURS = env_int("ORPHAN_GRACE_HOURS", 24)

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.core.pagination.PagePagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coffer API",
    "DESCRIPTION": "Team spaces, files, share links, locks and backups. Errors are "
                   '`{"code", "message", "detail"}`. Authenticate with `Authorization: Bearer <token>`.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Security ------------------------------------------------------------------
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12) * 3600
SECURE_SSL_REDIRECT = HTTPS and env_bool("SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # 2.5 MiB of form or JSON body

# --- Internationalisation ----------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Email -------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("EMAIL_FROM", "coffer@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
