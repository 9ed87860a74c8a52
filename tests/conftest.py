"""Shared fixtures for the black-box suites: the real `edgekv` binary on an ephemeral port with a
temporary data dir and fixed test credentials, and the directory of guests built from source.

The backend the servers store their data in is SQLite in the data dir, unless
`EDGEKV_TEST_BACKEND=postgres`: then each server gets a PostgreSQL database of its own on the server
`EDGEKV_TEST_POSTGRES_URL` names (created at its first start, kept across restarts, dropped when it
is closed), passed as `--store`, and `Server.kv` opens the same database. Tests about the SQLite file
itself are marked `@pytest.mark.sqlite_only(reason)` and skipped on PostgreSQL."""

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EDGEKV_BIN = os.environ.get("EDGEKV_BIN") or str(REPO / "target" / "release" / "edgekv")
GUESTS_DIR = Path(os.environ.get("EDGEKV_GUESTS_DIR") or REPO / "target" / "guests")

API_TOKEN = "edgekv-test-token"
CF_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
AWS_KEY_ID = "AKIAEDGEKVTEST000001"
AWS_SECRET = "edgekv-test-secret-key"
AWS_ACCOUNT_ID = "123456789012"

CREDENTIALS_ENV = {
    "EDGEKV_API_TOKEN": API_TOKEN,
    "EDGEKV_CLOUDFLARE_ACCOUNT_ID": CF_ACCOUNT_ID,
    "EDGEKV_AWS_ACCESS_KEY_ID": AWS_KEY_ID,
    "EDGEKV_AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    "EDGEKV_AWS_ACCOUNT_ID": AWS_ACCOUNT_ID,
}

BACKEND = os.environ.get("EDGEKV_TEST_BACKEND") or "sqlite"
POSTGRES_URL = os.environ.get("EDGEKV_TEST_POSTGRES_URL")

LISTENING = re.compile(r"^edgekv listening on (https?://127\.0\.0\.1:(\d+))$")
START_TIMEOUT = 240  # a first start compiles the component: large JS and Python guests take a while


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a test about the SQLite file itself, skipped when EDGEKV_TEST_BACKEND=postgres"
    )
    if BACKEND not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"EDGEKV_TEST_BACKEND is {BACKEND!r}: use sqlite or postgres")
    if BACKEND == "postgres" and not POSTGRES_URL:
        raise pytest.UsageError(
            "EDGEKV_TEST_BACKEND=postgres needs EDGEKV_TEST_POSTGRES_URL: start a server with "
            '`eval "$(tests/postgres.sh start)"`'
        )


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("sqlite_only")
    if marker and BACKEND == "postgres":
        pytest.skip(f"SQLite only: {marker.args[0] if marker.args else marker.kwargs.get('reason', '')}")


def psql(sql):
    """Runs one SQL statement on the test PostgreSQL server's `edgekv` database."""
    subprocess.run(["psql", POSTGRES_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


class Database:
    """A PostgreSQL database of its own on the test server, created now, dropped by `drop` (or at
    the end of the session, for a server its test only stopped)."""

    live = set()

    def __init__(self):
        self.name = f"edgekv_test_{uuid.uuid4().hex[:12]}"
        psql(f"CREATE DATABASE {self.name}")
        Database.live.add(self.name)
        self.url = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{self.name}"

    def drop(self):
        Database.drop_named(self.name)

    @staticmethod
    def drop_named(name):
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        Database.live.discard(name)


@pytest.fixture
def database():
    """The URL of a PostgreSQL database of this test's own on the test server, dropped afterwards."""
    db = Database()
    yield db.url
    db.drop()


def pytest_sessionfinish(session):
    for name in sorted(Database.live):
        Database.drop_named(name)


class Server:
    """One running `edgekv serve` process. On the PostgreSQL backend (and unless `args` name a
    `--store` already) it has a database of its own, which a restart keeps and `close` drops."""

    def __init__(self, data_dir, args, env):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.env = env
        self.proc = None
        self.url = None
        self.port = None
        self._lines = []
        self.database = Database() if BACKEND == "postgres" and "--store" not in self.args else None
        self.store_args = ["--store", self.database.url] if self.database else []
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self):
        cmd = [
            EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
            *self.store_args, *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        found = threading.Event()

        def pump(proc):
            for line in proc.stdout:
                self._lines.append(line)
                m = LISTENING.match(line.strip())
                if m and not found.is_set():
                    self.url, self.port = m.group(1), int(m.group(2))
                    found.set()

        threading.Thread(target=pump, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"edgekv did not start:\n{self.log()}")

    def log(self):
        return "".join(self._lines)

    def count_in_log(self, text, expected, timeout=10):
        """How often `text` is in the server's output, once it is there `expected` times or
        `timeout` seconds have passed (the output arrives through a pipe, after the responses)."""
        deadline = time.monotonic() + timeout
        while self.log().count(text) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.log().count(text)

    def wait_for_log(self, pattern, timeout=10):
        """The first match of regex `pattern` in the server's output, waiting for it to appear."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log())
            if m or time.monotonic() > deadline:
                assert m, f"{pattern!r} not in the server's output:\n{self.log()}"
                return m
            time.sleep(0.05)

    def stop(self):
        """SIGTERM, then wait for the drain."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        """SIGKILL: no chance to flush or drain."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def close(self):
        """Stops the server and drops its database, if it has one of its own. On the PostgreSQL
        backend, fails if a SQLite file appeared in the data dir: then something ran on SQLite."""
        self.stop()
        if self.database:
            self.database.drop()
            self.database = None
        if BACKEND == "postgres":
            sqlite = self.data_dir / "kv.sqlite3"
            assert not sqlite.exists(), f"{sqlite} was created although EDGEKV_TEST_BACKEND=postgres"

    def kv(self, *args, input=None, timeout=300):
        """Runs `edgekv kv ARGS...` on this server's data dir and store; the finished process."""
        cmd = [EDGEKV_BIN, "kv", "--data-dir", str(self.data_dir), *self.store_args, *args]
        return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)


@pytest.fixture
def edgekv(tmp_path):
    """Factory: `edgekv(app=None, config=None, args=[], env={})` starts a server; all are stopped at
    teardown (and their databases dropped, on the PostgreSQL backend)."""
    servers = []

    def start(app=None, config=None, args=(), env=None):
        full_env = {**os.environ, **CREDENTIALS_ENV, **(env or {})}
        full_env.pop("RUST_BACKTRACE", None)
        extra = []
        if config is not None:
            path = tmp_path / f"edgekv-{len(servers)}.toml"
            path.write_text(config)
            extra += ["--config", str(path)]
        if app is not None:
            extra.append(str(app))
        server = Server(tmp_path / f"data-{len(servers)}", [*extra, *args], full_env)
        servers.append(server)
        return server

    yield start
    wrong_backend = []
    for server in servers:
        try:
            server.close()
        except AssertionError as e:
            wrong_backend.append(str(e))
    assert not wrong_backend, wrong_backend


@pytest.fixture
def guests_dir():
    if not GUESTS_DIR.is_dir():
        pytest.fail(f"guests are not built: run guest-examples/build.sh (looked in {GUESTS_DIR})")
    return GUESTS_DIR


def guest(name):
    """Path of a built guest component."""
    path = GUESTS_DIR / f"{name}.wasm"
    if not path.is_file():
        pytest.fail(f"guest {name} is not built: run guest-examples/build.sh")
    return path
