"""`make run`: the whole system in one terminal.

Starts embedded PostgreSQL and Redis under var/ (unless DATABASE_URL / REDIS_URL are
set), migrates, seeds the demo data (on the embedded database only, unless `--demo`:
`make run ARGS=--demo`), then runs gunicorn, a Celery worker and Celery beat.
Ctrl-C stops every process it started; the data stays in var/ for the next run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config.embedded import embedded_services

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def seeds_demo(*, database_url: str | None, demo: bool) -> bool:
    """Demo users have known passwords: only on our own embedded database unless asked."""
    return demo or not database_url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="seed demo data into DATABASE_URL too")
    args = parser.parse_args()
    seed = seeds_demo(database_url=os.environ.get("DATABASE_URL"), demo=args.demo)
    with embedded_services(ROOT / "var", pg_port=54329, redis_port=63799) as service_env:
        env = {**os.environ, **service_env, "PYTHONUNBUFFERED": "1"}
        _manage("migrate", "--no-input", env=env)
        _manage("collectstatic", "--no-input", "-v", "0", env=env)
        if seed:
            _manage("seed_demo", env=env)
        commands = {
            "api": [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"{HOST}:{PORT}",
                "--workers",
                os.environ.get("WEB_CONCURRENCY", "2"),
                "--access-logfile",
                "-",
            ],
            "worker": [
                str(BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
            ],
            "beat": [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(ROOT / "var" / "celerybeat-schedule"),
            ],
        }
        processes = {
            name: subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
            for name, cmd in commands.items()
        }
        base = f"http://{HOST}:{PORT}"
        print(
            f"\n  API docs:  {base}/api/docs/\n  Admin:     {base}/admin/\n"
            f"  Health:    {base}/healthz  {base}/readyz\n"
            "  Demo logins are listed above (seed_demo), if seeded. Ctrl-C stops everything.\n",
            flush=True,
        )
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping.", flush=True)
                    exit_code, stopping = proc.returncode or 1, True
            time.sleep(0.5)
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("stopped API, worker and beat; stopping PostgreSQL and Redis.", flush=True)
        return exit_code


if __name__ == "__main__":
    sys.exit(main())
