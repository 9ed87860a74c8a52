"""Hostile and slow clients: oversized heads and bodies are refused from what the client declares,
before the body is read (each dialect in its own error format); a client that sends its headers
or body too slowly is cut off; open connections are capped. All over raw sockets, so the server's
behaviour is seen exactly as a misbehaving client would see it."""

import json
import socket
import time

import pytest
import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID

CONFIG = """
[[namespaces]]
binding = "default"
name = "limits"
profile = "cloudflare"
"""


def connect(server):
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_response(sock):
    """Reads until the end of the head and as much body as Content-Length says (or until close)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else None
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def head_only(server, method, path, headers):
    """Sends a request head that declares a body, never sends the body, and returns the response."""
    sock = connect(server)
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{server.port}", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    started = time.monotonic()
    response = read_response(sock)
    sock.close()
    return (*response, time.monotonic() - started)


@pytest.fixture
def server(edgekv):
    return edgekv(config=CONFIG, args=["--request-timeout", "3", "--header-timeout", "2", "--max-connections", "8"])


def namespace_id(server):
    r = requests.get(
        f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces",
        headers={"authorization": f"Bearer {API_TOKEN}"},
    )
    return next(ns["id"] for ns in r.json()["result"] if ns["title"] == "limits")


def test_oversized_bodies_are_refused_from_their_declared_length(server):
    ns = namespace_id(server)
    bearer = {"authorization": f"Bearer {API_TOKEN}"}
    cf = f"/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}"
    # A Telnyx body is capped from its namespace's value limit, so the namespace must exist.
    telnyx = requests.post(f"{server.url}/v2/storage/kvs", json={"name": "limits-telnyx"}, headers=bearer).json()
    cases = [
        ("PUT", f"{cf}/values/big", 25 * 1024 * 1024 + 1, 413, lambda b: json.loads(b)["errors"][0]["code"] == 10024),
        ("PUT", f"{cf}/bulk", 100 * 1024 * 1024 + 1, 413, lambda b: json.loads(b)["errors"][0]["code"] == 10024),
        ("PUT", f"/v2/storage/kvs/{telnyx['data']['id']}/keys/big", 1024 * 1024 + 1, 413,
         lambda b: "errors" in json.loads(b)),
        ("PUT", "/key-value-stores/arn/keys/big", 5 * 1024 * 1024, 402,
         lambda b: json.loads(b)["message"].startswith("The request body is larger")),
    ]
    for method, path, length, status, shape in cases:
        got, headers, body, took = head_only(server, method, path, {**bearer, "content-length": str(length)})
        assert got == status, (path, got, body)
        assert shape(body), body
        assert took < 2, f"{path}: answered after {took:.1f}s; it must not wait for the body"


def test_an_early_answer_waits_for_a_small_body_and_keeps_the_connection(server):
    """A dialect that answers before reading the body (here: an unknown namespace) still gets a
    small body read first: a socket closed with input unread sends a reset, which can destroy the
    answer before the client reads it, so the client saw the connection closed without a response.
    After the answer the connection serves the next request."""
    bearer = f"authorization: Bearer {API_TOKEN}"
    unknown = f"/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{'0' * 32}/values/k"
    sock = connect(server)
    body = b"v" * 100
    sock.sendall(
        f"PUT {unknown} HTTP/1.1\r\nhost: 127.0.0.1\r\n{bearer}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
    )
    time.sleep(0.3)  # the body comes later, as from a client whose segments are slow to arrive
    sock.sendall(body)
    status, _, answer = read_response(sock)
    assert status == 404 and json.loads(answer)["errors"][0]["code"] == 10013, answer
    sock.sendall(
        f"GET /client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces HTTP/1.1\r\nhost: 127.0.0.1\r\n{bearer}\r\n\r\n".encode()
    )
    status, _, listing = read_response(sock)
    sock.close()
    assert status == 200 and json.loads(listing)["success"], listing


def test_oversized_headers_get_431(server):
    sock = connect(server)
    sock.sendall(f"GET / HTTP/1.1\r\nhost: x\r\nx-big: {'a' * 300_000}\r\n\r\n".encode())
    status, _, _ = read_response(sock)
    sock.close()
    assert status == 431


def test_slow_headers_and_slow_bodies_are_cut_off(server):
    # Headers never finished: the connection is closed after the header timeout.
    sock = connect(server)
    sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")
    started = time.monotonic()
    leftover = sock.recv(65536)
    assert time.monotonic() - started < 8
    assert leftover == b"" or b" 408 " in leftover.split(b"\r\n")[0]
    sock.close()
    # A body that stops arriving: 408 after the request timeout, and the connection closes.
    ns = namespace_id(server)
    path = f"/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}/values/slow"
    sock = connect(server)
    head = f"PUT {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {API_TOKEN}\r\ncontent-length: 1000\r\n\r\n"
    sock.sendall(head.encode() + b"x" * 10)
    started = time.monotonic()
    status, headers, _ = read_response(sock)
    assert status == 408 and headers.get("connection") == "close"
    assert 2.5 < time.monotonic() - started < 8
    sock.close()
    assert requests.get(f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}/values/slow",
                        headers={"authorization": f"Bearer {API_TOKEN}"}).status_code == 404


def test_connections_are_capped(server):
    # Eight idle keep-alive connections hold every slot; a ninth is not served until one closes.
    held = []
    for _ in range(8):
        sock = connect(server)
        sock.sendall(b"GET /nothing HTTP/1.1\r\nhost: x\r\n\r\n")
        assert read_response(sock)[0] == 404
        held.append(sock)
    waiting = connect(server)
    waiting.settimeout(1.0)
    waiting.sendall(b"GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    with pytest.raises(socket.timeout):
        waiting.recv(65536)
    held.pop().close()
    waiting.settimeout(10)
    assert read_response(waiting)[0] == 404
    waiting.close()
    for sock in held:
        sock.close()


@pytest.mark.parametrize("listener", ["admin", "browser"])
def test_a_full_main_port_does_not_lock_out_the_admin_or_browser_listener(edgekv, listener):
    # Idle connections fill the main port's budget (and never time out here); the admin and the
    # browser listeners have budgets of their own, so they still answer.
    args = ["--max-connections", "2", "--header-timeout", "600", "--request-timeout", "600"]
    if listener == "admin":
        args += ["--admin-listen", "127.0.0.1:0"]
    server = edgekv(config=CONFIG, args=args)
    url = server.wait_for_log(r"data browser: (http://127\.0\.0\.1:\d+)/_edgekv/").group(1)
    assert url != server.url
    held = [connect(server) for _ in range(2)]
    waiting = connect(server)
    waiting.settimeout(1.0)
    waiting.sendall(b"GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    with pytest.raises(socket.timeout):
        waiting.recv(65536)
    r = requests.get(f"{url}/_edgekv/api/namespaces", headers={"authorization": f"Bearer {API_TOKEN}"}, timeout=20)
    assert r.status_code == 200 and [ns["name"] for ns in r.json()["namespaces"]] == ["limits"]
    if listener == "admin":
        r = requests.get(f"{url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces",
                         headers={"authorization": f"Bearer {API_TOKEN}"}, timeout=20)
        assert r.status_code == 200
    for sock in [waiting, *held]:
        sock.close()
