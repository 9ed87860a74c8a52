"""Access logs and request ids against the real server: `--log-format json` writes one JSON object
per stderr line; every request gets one access line (`edgekv::access`) with its method, route kind,
app, status, duration, body bytes and request id; the client's `x-request-id` is echoed when safe
and replaced by a fresh one otherwise; a guest's stdout and stderr lines carry the same id."""

import json
import os
import re
import socket
import subprocess
import threading
import time

import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, CREDENTIALS_ENV, EDGEKV_BIN, guest

BEARER = {"authorization": f"Bearer {API_TOKEN}"}
FRESH_ID = re.compile(r"^[0-9a-f]{32}$")


def spawn(tmp_path, args, env=None):
    """Starts `edgekv serve ARGS` on a free port with a data dir in `tmp_path` (SQLite: the log
    does not depend on the backend)."""
    full_env = {**os.environ, **CREDENTIALS_ENV, **(env or {})}
    full_env.pop("RUST_LOG", None)
    cmd = [EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), *args]
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Split(proc)


class Split:
    """One `edgekv serve` with its stdout and stderr read apart."""

    def __init__(self, proc):
        self.proc = proc
        self.out, self.err = [], []
        self.url = None
        found = threading.Event()

        def pump_out():
            for line in proc.stdout:
                self.out.append(line)
                m = re.match(r"^edgekv listening on (http://\S+)$", line.strip())
                if m:
                    self.url = m.group(1)
                    found.set()

        def pump_err():
            for line in proc.stderr:
                self.err.append(line)

        threading.Thread(target=pump_out, daemon=True).start()
        threading.Thread(target=pump_err, daemon=True).start()
        if not found.wait(240):
            self.stop()
            raise RuntimeError("edgekv did not start:\n" + "".join(self.out + self.err))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def json_lines(self):
        return [json.loads(line) for line in list(self.err)]

    def access(self, request_id, timeout=10):
        """The access lines carrying `request_id`, once there is at least one (the line is written
        when the response body ends, which may be just after the client has it)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [
                l for l in self.json_lines()
                if l.get("target") == "edgekv::access" and l.get("request_id") == request_id
            ]
            if lines or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


def raw_request(url, head):
    """Sends `head` (request line and headers, CRLF-separated, without the blank line) and returns
    the response head as text."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode("latin-1") + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return data.decode("latin-1").split("\r\n\r\n", 1)[0]


def test_json_access_lines_carry_the_clients_request_id(tmp_path, guests_dir):
    server = spawn(tmp_path, ["--log-format", "json", str(guest("rust-kv-api"))])
    try:
        # An app route.
        put = requests.put(f"{server.url}/kv/x", data=b"hello", headers={"x-request-id": "abc-123"})
        assert put.status_code in (200, 201, 204), put.text
        assert put.headers["x-request-id"] == "abc-123"
        r = requests.get(f"{server.url}/kv/x", headers={"x-request-id": "app-get.1"})
        assert r.status_code == 200 and r.content == b"hello"
        assert r.headers["x-request-id"] == "app-get.1"
        [line] = server.access("app-get.1")
        assert line["level"] == "INFO"
        assert line["method"] == "GET" and line["kind"] == "app" and line["app"] == "/"
        assert line["status"] == 200 and line["bytes"] == len(r.content) == 5
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        [line] = server.access("abc-123")
        assert line["method"] == "PUT" and line["kind"] == "app" and line["status"] == put.status_code
        assert line["bytes"] == len(put.content)

        # A management API call.
        r = requests.get(
            f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces",
            headers={**BEARER, "x-request-id": "cf:list/1"},
        )
        assert r.status_code == 200 and r.headers["x-request-id"] == "cf:list/1"
        [line] = server.access("cf:list/1")
        assert line["kind"] == "cloudflare" and line["status"] == 200
        assert line["bytes"] == len(r.content) > 0 and "app" not in line

        # A request without credentials is logged too, with its refusal.
        r = requests.get(
            f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces",
            headers={"x-request-id": "cf-unauthorised"},
        )
        assert r.status_code in (400, 401, 403)
        [line] = server.access("cf-unauthorised")
        assert line["kind"] == "cloudflare" and line["status"] == r.status_code

        # Each request has exactly one access line.
        assert len(server.access("abc-123")) == 1
        # Every line of the log is JSON.
        assert server.err, "nothing was logged"
        for line in server.json_lines():
            assert {"timestamp", "level", "target"} <= line.keys(), line
    finally:
        server.stop()
    # The lines written while shutting down are JSON too.
    assert all(isinstance(line, dict) for line in server.json_lines())


def test_a_path_no_app_serves_is_logged_as_kind_none(tmp_path):
    server = spawn(tmp_path, ["--log-format", "json"])
    try:
        r = requests.get(f"{server.url}/nothing/here", headers={"x-request-id": "missing-1"})
        assert r.status_code == 404 and r.headers["x-request-id"] == "missing-1"
        [line] = server.access("missing-1")
        assert line["kind"] == "none" and line["status"] == 404 and line["bytes"] == len(r.content)
        assert "app" not in line
        r = requests.get(f"{server.url}/_edgekv/livez")
        assert r.status_code == 200 and FRESH_ID.match(r.headers["x-request-id"])
        [line] = server.access(r.headers["x-request-id"])
        assert line["kind"] == "operations"
    finally:
        server.stop()


def test_a_guests_output_carries_the_request_id(tmp_path, guests_dir):
    server = spawn(tmp_path, ["--log-format", "json", str(guest("misbehave"))])
    try:
        r = requests.get(f"{server.url}/log", headers={"x-request-id": "guest-out-7"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "guest-out-7"
        assert server.access("guest-out-7")
    finally:
        server.stop()
    guest_lines = [l for l in server.json_lines() if l.get("target") == "guest"]
    by_stream = {l["stream"]: l for l in guest_lines}
    assert by_stream["stdout"]["message"] == "hello on stdout"
    assert by_stream["stderr"]["message"] == "hello on stderr"
    assert {l["request_id"] for l in guest_lines} == {"guest-out-7"}


def test_a_failed_guest_request_names_its_request_id(tmp_path, guests_dir):
    server = spawn(tmp_path, ["--log-format", "json", str(guest("misbehave"))])
    try:
        r = requests.get(f"{server.url}/trap", headers={"x-request-id": "trap-1"})
        assert r.status_code == 500 and r.headers["x-request-id"] == "trap-1"
        assert "request trap-1" in r.text
        [line] = server.access("trap-1")
        assert line["status"] == 500 and line["kind"] == "app"
    finally:
        server.stop()
    failures = [l for l in server.json_lines() if "request failed" in l.get("message", "")]
    assert [l["request_id"] for l in failures] == ["trap-1"]


def test_a_hostile_request_id_is_replaced_and_never_echoed(tmp_path):
    server = spawn(tmp_path, ["--log-format", "json"])
    hostile = ["x" * 129, "has spaces in it", "<script>", "a,b"]
    try:
        for bad in hostile:
            r = requests.get(f"{server.url}/_edgekv/livez", headers={"x-request-id": bad})
            echoed = r.headers["x-request-id"]
            assert echoed != bad and FRESH_ID.match(echoed), echoed
            assert server.access(echoed)
        # A control character (a tab is one hyper lets through in a header value).
        head = raw_request(server.url, f"GET /_edgekv/livez HTTP/1.1\r\nHost: x\r\nx-request-id: ab\tcd")
        echoed = re.search(r"(?im)^x-request-id: ([^\r\n]*)", head).group(1)
        assert FRESH_ID.match(echoed), head
        assert server.access(echoed)
    finally:
        server.stop()
    log = "".join(server.err)
    for bad in hostile + ["ab\tcd", "ab\\tcd"]:
        assert bad not in log


def test_text_format_is_the_default_and_reads_as_text(tmp_path, guests_dir):
    server = spawn(tmp_path, [str(guest("misbehave"))])
    try:
        r = requests.get(f"{server.url}/log", headers={"x-request-id": "text-1"})
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while not any("edgekv::access" in l for l in server.err) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    access = [l for l in server.err if "edgekv::access" in l]
    assert len(access) == 1
    line = access[0]
    assert not line.startswith("{") and "\x1b[" not in line  # no colours through a pipe
    assert " INFO " in line and "GET app 200" in line
    assert "request_id=\"text-1\"" in line and "kind=\"app\"" in line
    guest_lines = [l for l in server.err if "hello on std" in l]
    assert len(guest_lines) == 2 and all("request_id=\"text-1\"" in l for l in guest_lines)


def test_a_timed_out_request_echoes_its_id_and_is_logged(tmp_path, guests_dir):
    server = spawn(tmp_path, ["--log-format", "json", "--request-timeout", "1", str(guest("misbehave"))])
    try:
        r = requests.get(f"{server.url}/loop", headers={"x-request-id": "slow-1"}, timeout=30)
        assert r.status_code == 408 and r.headers["x-request-id"] == "slow-1"
        [line] = server.access("slow-1")
        assert line["status"] == 408 and line["kind"] == "app" and line["app"] == "/"
    finally:
        server.stop()
