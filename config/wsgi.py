import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from core.http import wsgi_charset_guard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = wsgi_charset_guard(get_wsgi_application())

# What start-up loads (settings, apps, models, and the views, imported here through the
# URLconf rather than by the first request) lives as long as the process. Frozen, the
# garbage collector stops re-scanning it in every full collection (see benchmarks/);
# under a preloading gunicorn the workers inherit it frozen. Collected first, so no
# start-up garbage is kept for ever.
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
