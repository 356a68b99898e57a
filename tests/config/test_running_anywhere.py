"""The embedded services start from a checkout that only its owner can enter (under /root,
in a mode-0700 temp dir), with the same virtualenv, and change no directory's mode."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Starts PostgreSQL and Redis from the clone, runs a query and a PING, stops both.
PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import psycopg
    import redis

    from config import embedded

    assert Path(embedded.__file__).is_relative_to(Path.cwd()), embedded.__file__
    with embedded.embedded_services(Path("var")) as env:
        with psycopg.connect(env["DATABASE_URL"]) as connection:
            print("postgres", connection.execute("SELECT 41 + 1").fetchone()[0])
        print("redis", redis.Redis.from_url(env["REDIS_URL"]).ping())
    """
)


def test_embedded_services_start_from_a_private_checkout():
    home = Path(tempfile.mkdtemp(prefix="telehealth-private-"))  # mode 0700
    try:
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        clone = home / "app"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=60)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["PYTHONPATH"] = str(clone)
        done = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["postgres", "42", "redis", "True"]
        # Nothing was opened up to get there.
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert stat.S_IMODE(clone.stat().st_mode) == 0o755 & ~current_umask()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
