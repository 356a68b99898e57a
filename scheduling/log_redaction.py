"""Keeps iCal feed secrets out of the logs.

Our own code never logs a request path, but Django does: `django.request` writes the path
of every 5xx ("Internal Server Error: /api/scheduling/ical/<secret>.ics") and the
development server (`django.server`) writes every request line. The secret in a feed URL
is its only credential, so this filter masks it in any record that carries one. Plain
standard library: the logging configuration loads it before Django's apps are ready."""

from __future__ import annotations

import logging
import re

FEED_SECRET = re.compile(r"(/ical/)[^/\s?\"']+(\.ics)")
MASK = r"\1[redacted]\2"


class RedactFeedSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/ical/" in message:
            redacted = FEED_SECRET.sub(MASK, message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True
