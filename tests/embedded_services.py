"""pytest plugin: real PostgreSQL and Redis for the test session.

Loaded with `-p tests.embedded_services` (see pyproject.toml) so it runs before
pytest-django reads the settings. Whatever DATABASE_URL / REDIS_URL do not name is
started embedded in a temp dir and removed afterwards. xdist workers inherit the
controller's environment and start nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

_stack = contextlib.ExitStack()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    if os.environ.get("TEST_DATABASE_URL") and not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
    # Tasks enqueued on commit run inline in tests; no worker needs to be running.
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        _start_embedded()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        # One Redis database per xdist worker, so clearing throttles never crosses workers.
        base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
        os.environ["REDIS_URL"] = f"{base}/{int(worker[2:]) + 1}"


def _start_embedded() -> None:
    from config.embedded import embedded_services

    os.environ["EMBEDDED_PG_FAST"] = "1"  # throwaway data: no fsync
    data_dir = Path(tempfile.mkdtemp(prefix="telehealth-test-"))
    _stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
    os.environ.update(_stack.enter_context(embedded_services(data_dir)))


def pytest_unconfigure(config: Any) -> None:
    _stack.close()
