"""Guests cannot reach this server's management APIs through outgoing HTTP (by any spelling of a
loopback address, a name that resolves to one, or the admin and data browser listeners), while
other outgoing requests go through; --allow-guest-management opens them. Driven by the misbehave
test guest's /fetch route, which GETs the URL it is given."""

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, guest

CONFIG = """
[[apps]]
route = "/"
component = "{app}"
"""

# Every spelling of this host that the resolver turns into a loopback or unspecified address.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "017700000001",
    "0177.0.0.1",
    "0x7f.0.0.1",
    "0x7f.0x0.0x0.0x1",
    "127.0.0.2",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::1]",
    "0",
    "0.0.0.0",
    "[::]",
]


def loopback_names():
    """Host names that resolve only to loopback here: localhost, and this machine's own name (or
    ip6-localhost) where the hosts file maps it there."""
    names = ["localhost"]
    for name in sorted({socket.gethostname(), "ip6-localhost", "ip6-loopback"} - {"localhost"}):
        try:
            infos = socket.getaddrinfo(name, None)
        except OSError:
            continue
        if infos and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos):
            names.append(name)
    return names


MANAGEMENT_PATHS = [
    f"/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces",
    "/v2/storage/kvs",
    "/_edgekv/api/namespaces",
    "/2020-05-31/key-value-store",
    "/key-value-stores/x/keys",
]


class Upstream:
    """A plain HTTP server on loopback that answers 200 and records the Host header it was sent."""

    def __init__(self):
        hosts = self.hosts = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hosts.append(self.headers.get("host"))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def fetch(server, target, auth=None):
    headers = {"x-target": target, **({"x-target-auth": auth} if auth else {})}
    return requests.get(f"{server.url}/fetch", headers=headers, timeout=30)


def test_guests_cannot_call_the_management_apis(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("misbehave")))
    bearer = f"Bearer {API_TOKEN}"
    port = server.port
    hosts = LOOPBACK_SPELLINGS + loopback_names()
    for host in hosts:
        for path in MANAGEMENT_PATHS:
            target = f"http://{host}:{port}{path}"
            r = fetch(server, target, bearer)
            assert r.status_code == 502 and "HttpRequestDenied" in r.text, (target, r.status_code, r.text)
    expected = len(hosts) * len(MANAGEMENT_PATHS)
    assert server.count_in_log("refused a guest's request", expected) == expected
    # The guest's own routes on the same server are not management: that request goes through.
    for host in ["127.0.0.1", "127.1", "0x7f000001", "localhost"]:
        r = fetch(server, f"http://{host}:{port}/plain")
        assert r.status_code == 200, (host, r.text)


def test_other_servers_are_reached_at_the_checked_address_with_the_guests_host(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("misbehave")))
    upstream = Upstream()
    try:
        # A management-looking path on another server is that server's business.
        for host in ["127.0.0.1", "127.1", "0x7f000001", "localhost"]:
            r = fetch(server, f"http://{host}:{upstream.port}/v2/storage/kvs", f"Bearer {API_TOKEN}")
            assert r.status_code == 200, (host, r.text)
        assert upstream.hosts == [f"{h}:{upstream.port}" for h in ["127.0.0.1", "127.1", "0x7f000001", "localhost"]]
    finally:
        upstream.close()


def test_the_admin_listener_is_closed_to_guests(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("misbehave")), args=["--admin-listen", "127.0.0.1:0"])
    admin = server.wait_for_log(r"data browser: http://127\.0\.0\.1:(\d+)/_edgekv/").group(1)
    for host in ["127.0.0.1", "127.1", "[::ffff:7f00:1]", "2130706433", *loopback_names()]:
        r = fetch(server, f"http://{host}:{admin}/v2/storage/kvs", f"Bearer {API_TOKEN}")
        assert r.status_code == 502 and "HttpRequestDenied" in r.text, (host, r.text)


def test_the_browser_listener_is_closed_to_guests(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("misbehave")))
    browser = server.wait_for_log(r"data browser: (http://127\.0\.0\.1:\d+)/_edgekv/").group(1)
    assert browser != server.url
    r = fetch(server, f"{browser}/_edgekv/api/namespaces", f"Bearer {API_TOKEN}")
    assert r.status_code == 502 and "HttpRequestDenied" in r.text, r.text


def test_allow_guest_management_opens_them(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("misbehave")), args=["--allow-guest-management"])
    r = fetch(server, f"http://127.0.0.1:{server.port}/v2/storage/kvs", f"Bearer {API_TOKEN}")
    assert r.status_code == 200, r.text
