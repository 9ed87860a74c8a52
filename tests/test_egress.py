"""Guests cannot reach this server's management APIs through outgoing HTTP (by 127.0.0.1,
localhost, the admin listener or the data browser's), while other outgoing requests go through; --allow-guest-management
opens them. Driven by the misbehave test guest's /fetch route, which GETs the URL it is given."""


import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, guest

CONFIG = """
[[apps]]
route = "/"
component = "{app}"
"""


def fetch(server, target, auth=None):
    headers = {"x-target": target, **({"x-target-auth": auth} if auth else {})}
    return requests.get(f"{server.url}/fetch", headers=headers, timeout=30)


def test_guests_cannot_call_the_management_apis(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("misbehave")))
    bearer = f"Bearer {API_TOKEN}"
    port = server.port
    for target in [
        f"http://127.0.0.1:{port}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces",
        f"http://localhost:{port}/v2/storage/kvs",
        f"http://127.0.0.1:{port}/_edgekv/api/namespaces",
        f"http://127.0.0.1:{port}/2020-05-31/key-value-store",
    ]:
        r = fetch(server, target, bearer)
        assert r.status_code == 502 and "HttpRequestDenied" in r.text, (target, r.status_code, r.text)
    assert "refused a guest's request" in server.log()
    # The guest's own routes on the same server are not management: that request goes through.
    r = fetch(server, f"http://127.0.0.1:{port}/plain")
    assert r.status_code == 200, r.text


def test_the_admin_listener_is_closed_to_guests(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("misbehave")), args=["--admin-listen", "127.0.0.1:0"])
    admin = server.wait_for_log(r"management APIs: (http://127\.0\.0\.1:\d+)/client/v4").group(1)
    r = fetch(server, f"{admin}/v2/storage/kvs", f"Bearer {API_TOKEN}")
    assert r.status_code == 502 and "HttpRequestDenied" in r.text, r.text


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
