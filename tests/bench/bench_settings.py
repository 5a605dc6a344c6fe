"""The node's settings with the benchmark's URLs (the bare JSON view beside the API), DEBUG off as in production."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.bench.bench_urls"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
HC_HOSPITAL_RATE_LIMITS = {"default": "100000000/min"}
LOGGING = {"version": 1, "disable_existing_loggers": False}
