"""Black-box tests of requests that do not complete: a body that never arrives whole (a client that
disconnects mid-body, a malformed chunk), a request cut off by --request-timeout, and a client that
stops reading its response. None of them may change data, whatever the guest does with the failed
body, and none may hold a guest instance past --write-timeout. Every example guest is driven at
several abort points, and so is careless-writer, a test guest that stores whatever it got."""

import itertools
import os
import socket
import time

import pytest
import requests

import conftest
from conftest import guest

EXAMPLES = ["rust-kv-api", "js-kv-api", "python-kv-api", "c-kv-api"]
VALUE = bytes(range(256)) * 64  # 16 KiB


def connect(server):
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def path_for(app, key):
    return f"/{key}" if app == "careless-writer" else f"/kv/{key}"


def stored(server, key):
    """The value at `key` of the `default` namespace, read with `edgekv kv` (None when absent)."""
    done = server.kv("get", "-n", "default", key)
    return None if done.returncode == 1 else done.stdout


def read_response(sock):
    """The status code of the response on `sock`, or None if the server closed it unanswered."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
    except (ConnectionResetError, socket.timeout):
        return None
    return int(data.split(b" ", 2)[1])


def never_appears(server, key, wait=1.5):
    """True if `key` stays absent for `wait` seconds (a write the guest was refused or never made)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if stored(server, key) is not None:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture(params=EXAMPLES + ["careless-writer"], scope="module")
def app_server(request, tmp_path_factory):
    """A server running one guest, shared by the module's tests of it (each uses keys of its own)."""
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    # One compile cache for every server of the session: the JS and Python components are large.
    cache = tmp_path_factory.getbasetemp() / "component-cache"
    env = {**os.environ, **conftest.CREDENTIALS_ENV, "EDGEKV_CACHE_DIR": str(cache)}
    env.pop("RUST_BACKTRACE", None)
    server = conftest.Server(tmp / "data", [str(guest(name))], env)
    yield name, server
    server.stop()


_unique = itertools.count()


def unique(name):
    return f"{name}-{next(_unique)}"


@pytest.mark.parametrize("sent", [0, 1, 4096, len(VALUE) - 1])
def test_a_client_gone_mid_body_writes_nothing(app_server, sent):
    app, server = app_server
    key = unique(f"cut-{sent}")
    with connect(server) as sock:
        head = f"PUT {path_for(app, key)} HTTP/1.1\r\nHost: edgekv\r\nContent-Length: {len(VALUE)}\r\n\r\n"
        sock.sendall(head.encode() + VALUE[:sent])
        time.sleep(0.2)  # the guest is reading the body
    assert never_appears(server, key), f"{app} stored a body that was cut at {sent} bytes"
    # The server and the guest go on serving.
    r = requests.put(f"{server.url}{path_for(app, key)}", data=VALUE, timeout=60)
    assert r.status_code in (200, 201), r.text
    assert stored(server, key) == VALUE


@pytest.mark.parametrize("garbage", [b"zz\r\n", b"4\r\nabcdefgh\r\n", b"10\r\nshort\r\n\r\n"])
def test_a_malformed_chunk_is_an_error_not_the_end_of_the_body(app_server, garbage):
    app, server = app_server
    key = unique("chunked")
    with connect(server) as sock:
        head = f"PUT {path_for(app, key)} HTTP/1.1\r\nHost: edgekv\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head.encode() + b"5\r\nhello\r\n" + garbage)
        status = read_response(sock)
    # Example guests answer 400; the careless one's write is refused (500); or the connection closes.
    assert status in (None, 400, 500), status
    assert never_appears(server, key), f"{app} stored a body with a malformed chunk"


@pytest.mark.parametrize("app", ["rust-kv-api", "careless-writer"])
def test_a_request_answered_408_changes_nothing(edgekv, guests_dir, app):
    server = edgekv(app=guest(app), args=["--request-timeout", "1"])
    key = "slow"
    with connect(server) as sock:
        head = f"PUT {path_for(app, key)} HTTP/1.1\r\nHost: edgekv\r\nContent-Length: 100\r\n\r\n"
        sock.sendall(head.encode() + b"x" * 10)
        assert read_response(sock) == 408
    assert never_appears(server, key), f"{app} stored the value of a request answered 408"


def test_a_client_that_stops_reading_frees_its_instance(edgekv, guests_dir):
    server = edgekv(app=guest("rust-kv-api"), args=["--max-instances", "1", "--write-timeout", "1"])
    big = b"x" * (24 << 20)  # far more than the socket buffers hold
    assert requests.put(f"{server.url}/kv/big", data=big, timeout=120).status_code == 201
    assert requests.put(f"{server.url}/kv/small", data=b"s", timeout=30).status_code == 201
    with connect(server) as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /kv/big HTTP/1.1\r\nHost: edgekv\r\n\r\n")
        time.sleep(0.5)  # the guest has answered and is writing the body nobody reads
        # The only instance is freed once the response has waited --write-timeout for its reader;
        # before, it stayed taken until the guest's 30 s deadline.
        r = requests.get(f"{server.url}/kv/small", timeout=15)
        assert r.status_code == 200 and r.content == b"s"


def test_a_trap_tells_the_client_no_more_than_that(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"))
    r = requests.get(f"{server.url}/trap", timeout=30)
    assert r.status_code == 500
    assert "trapped" in r.text and "request" in r.text
    for detail in ("wasm backtrace", "unreachable", "0x", "misbehave"):
        assert detail not in r.text, r.text
    assert "wasm backtrace" in server.wait_for_log("wasm backtrace").group(0)


def test_a_request_without_host(edgekv, guests_dir):
    server = edgekv(app=guest("misbehave"))
    for version, expected in ((b"HTTP/1.1", 400), (b"HTTP/1.0", 200)):
        with connect(server) as sock:
            sock.sendall(b"GET / " + version + b"\r\n\r\n")
            assert read_response(sock) == expected, version
