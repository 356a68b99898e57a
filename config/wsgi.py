import os

from django.core.wsgi import get_wsgi_application

from core.http import wsgi_charset_guard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = wsgi_charset_guard(get_wsgi_application())
