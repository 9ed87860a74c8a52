"""`edgekv new` and `edgekv dev`, black-box, in every guest language: `new` writes an app into a
temporary folder, `dev` builds it from source with the language's tools and serves it on a free
port, and the test uses it as a developer would: the visit counter, the KV API with metadata and
TTL, an edit of the greeting served after the rebuild without a restart, and a broken edit that
prints the compiler's error while the last good version keeps serving.

The language tools are the ones guest-examples/build.sh installs (tests/run.sh runs it first):
`$EDGEKV_GUEST_TOOLS` (default target/guest-tools) for componentize-py, wit-bindgen and wasm-tools,
npm's cache for componentize-js, rustup's wasm32-wasip2 target for Rust."""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import EDGEKV_BIN, REPO

# A first build of a JavaScript app runs `npm ci` and componentize-js; a Rust one compiles
# wit-bindgen: minutes on a busy 2-core machine, never more than this.
BUILD_TIMEOUT = 600
LISTENING = r"^edgekv listening on (http://127\.0\.0\.1:\d+)$"

# Per language: the file that holds the greeting, and a line that does not compile there.
LANGUAGES = {
    "rust": ("src/lib.rs", "this is not code\n"),
    "js": ("src/app.js", "this is not code(\n"),
    "python": ("app.py", "def (\n"),
    "c": ("src/kv_api.c", "this is not code\n"),
}
# What each language's tools print for the broken line.
COMPILER_ERROR = {
    "rust": r"error: expected one of",
    "js": r"SyntaxError",
    "python": r"SyntaxError",
    "c": r"error: ",
}


def tools_env():
    env = {k: v for k, v in os.environ.items() if k not in ("CARGO_TARGET_DIR", "RUST_BACKTRACE")}
    env.setdefault("EDGEKV_GUEST_TOOLS", str(REPO / "target" / "guest-tools"))
    return env


class Dev:
    """One running `edgekv dev` process (in a session of its own, so that stopping it also stops a
    build it started) and everything it printed."""

    def __init__(self, app):
        self.lines = []
        self.proc = subprocess.Popen(
            [EDGEKV_BIN, "dev", str(app), "--listen", "127.0.0.1:0"],
            env=tools_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self.wait_for(LISTENING, BUILD_TIMEOUT).group(1)

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def log(self):
        return "".join(self.lines)

    def wait_for(self, pattern, timeout, start=0):
        """The first match of `pattern` in what was printed from line `start` on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, "".join(self.lines[start:]), re.M)
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} within {timeout}s:\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def new(lang, folder):
    return subprocess.run(
        [EDGEKV_BIN, "new", "--lang", lang, str(folder)], capture_output=True, text=True, timeout=60
    )


def build(app, out):
    """Runs the app's build.sh into `out`, as `edgekv dev` does; what it printed."""
    run = subprocess.run(
        ["bash", "build.sh", str(out)], cwd=app, env=tools_env(), capture_output=True, text=True, timeout=BUILD_TIMEOUT
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_new_then_dev_serves_counts_stores_and_rebuilds(tmp_path, lang):
    app = tmp_path / f"hello-{lang}"
    made = new(lang, app)
    assert made.returncode == 0, made.stderr
    for name in (".gitignore", "README.md", "build.sh", "edgekv-app.toml", "wit/edgekv.wit"):
        assert (app / name).is_file(), name
    assert "edgekv dev" in (app / "README.md").read_text()

    dev = Dev(app)
    try:
        # The visit counter, kept in KV.
        assert request("GET", dev.url + "/")[2].decode().strip() == f"Hello from hello-{lang}! (visit 1)"
        assert request("GET", dev.url + "/")[2].decode().strip() == f"Hello from hello-{lang}! (visit 2)"

        # The KV API with metadata and TTL.
        status, _, _ = request("PUT", dev.url + "/kv/x", b"value one", {"x-metadata": '{"by":"test"}', "x-ttl": "3600"})
        assert status == 201
        status, headers, body = request("GET", dev.url + "/kv/x")
        assert (status, body) == (200, b"value one")
        headers = {k.lower(): v for k, v in headers.items()}
        assert headers["x-metadata"] == '{"by":"test"}'
        assert int(headers["x-expires-at-ms"]) > time.time() * 1000 + 3000 * 1000

        # An edit is served after the rebuild, by the same process.
        source, broken = LANGUAGES[lang]
        path = app / source
        text = path.read_text()
        assert "Hello from" in text
        path.write_text(text.replace("Hello from", "Howdy from"))
        deadline = time.monotonic() + BUILD_TIMEOUT
        while not request("GET", dev.url + "/")[2].startswith(b"Howdy from"):
            assert time.monotonic() < deadline, f"the edit was not served:\n{dev.log()}"
            assert dev.proc.poll() is None, dev.log()
            time.sleep(0.5)

        # Built already and nothing changed since: build.sh skips the build, and leaves the component
        # it was asked for as it is, so a server watching it does not reload.
        out = tmp_path / "again.wasm"
        first = build(app, out)
        written = out.stat().st_mtime_ns
        second = build(app, out)
        if lang != "rust":  # cargo has an up-to-date check of its own
            assert "up to date" in first and "up to date" in second, first + second
        assert out.stat().st_mtime_ns == written

        # A broken edit: the compiler's error is printed and the last good version keeps serving.
        mark = len(dev.lines)
        path.write_text(path.read_text() + broken)
        dev.wait_for(r"build failed", BUILD_TIMEOUT, start=mark)
        assert re.search(COMPILER_ERROR[lang], "".join(dev.lines[mark:])), dev.log()
        status, _, body = request("GET", dev.url + "/")
        assert status == 200 and body.startswith(f"Howdy from hello-{lang}! (visit ".encode()), body
        assert dev.proc.poll() is None
        assert (app / ".edgekv" / "kv.sqlite3").is_file()
    finally:
        dev.stop()


def test_new_refuses_a_folder_that_is_not_empty(tmp_path):
    app = tmp_path / "taken"
    app.mkdir()
    (app / "notes.txt").write_text("mine")
    made = new("rust", app)
    assert made.returncode != 0
    assert "already exists and is not empty" in made.stderr
    assert sorted(p.name for p in app.iterdir()) == ["notes.txt"]


def test_new_into_an_empty_folder_and_help_shows_an_example(tmp_path):
    app = tmp_path / "empty"
    app.mkdir()
    assert new("c", app).returncode == 0
    assert (app / "src" / "kv_api.c").is_file()
    helped = subprocess.run([EDGEKV_BIN, "new", "--help"], capture_output=True, text=True, timeout=30)
    assert "edgekv new --lang rust hello" in helped.stdout


def test_dev_outside_an_app_folder_says_how_to_make_one(tmp_path):
    run = subprocess.run([EDGEKV_BIN, "dev", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert "edgekv new" in run.stderr
