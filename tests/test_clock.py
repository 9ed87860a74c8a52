"""The virtual clock: `edgekv serve --clock manual` stands time still until a test moves it
(`POST /_edgekv/api/clock` or `edgekv clock`), and every path tells time by it: expiry through a
guest, the three REST APIs, the browser API and `edgekv kv`; the times the APIs report; the guests'
own wall clock. It never moves back. No test here sleeps: expiry is reached by moving the clock."""

import datetime
import json
import subprocess

import pytest
import requests
from cloudflare import Cloudflare
from telnyx import Telnyx

from conftest import API_TOKEN, CF_ACCOUNT_ID, CREDENTIALS_ENV, EDGEKV_BIN, guest
from test_cloudfront import clients

START = "2030-01-01T00:00:00Z"
START_MS = 1_893_456_000_000
BEARER = {"authorization": f"Bearer {API_TOKEN}"}

CONFIG = f"""
[[namespaces]]
binding = "default"

[[namespaces]]
binding = "sessions"
name = "sessions"
profile = "telnyx"

[[namespaces]]
binding = "catalog"
name = "catalog"
profile = "cloudfront"

[[apps]]
route = "/"
component = "{guest("rust-kv-api")}"
bindings = ["default"]
"""


@pytest.fixture
def server(edgekv):
    return edgekv(config=CONFIG, args=["--clock", "manual", "--start-time", START])


def clock(server, **move):
    """The clock after `move` (none: a read), as the admin API answers it."""
    url = f"{server.url}/_edgekv/api/clock"
    r = requests.post(url, headers=BEARER, json=move) if move else requests.get(url, headers=BEARER)
    assert r.status_code == 200, r.text
    return r.json()


def namespace_id(server, name):
    listed = requests.get(f"{server.url}/_edgekv/api/namespaces", headers=BEARER).json()
    return next(ns["id"] for ns in listed["namespaces"] if ns["name"] == name)


def edgekv_clock(server, *args):
    env = {**CREDENTIALS_ENV, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [EDGEKV_BIN, "clock", *args, "--server", server.url], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_clock_starts_where_told_and_stands_still(server):
    first = clock(server)
    assert first == {"mode": "manual", "now": START, "now_ms": START_MS}
    assert clock(server) == first
    # The guest's own wall clock (std's SystemTime, wasi:clocks/wall-clock) is the store's.
    assert requests.get(f"{server.url}/now").json() == {"now_ms": START_MS}


def test_a_ttl_expires_on_every_path_when_the_clock_moves_past_it(server):
    default, sessions = namespace_id(server, "default"), namespace_id(server, "sessions")
    cf = Cloudflare(api_token=API_TOKEN, base_url=f"{server.url}/client/v4", max_retries=0)
    tx = Telnyx(api_key=API_TOKEN, base_url=f"{server.url}/v2", max_retries=0)
    # Written through the guest, Cloudflare, Telnyx and the CLI, each for the shortest TTL: 60 s.
    assert requests.put(f"{server.url}/kv/by-guest", data=b"g", headers={"x-ttl": "60"}).status_code == 201
    cf.kv.namespaces.values.update("by-cloudflare", account_id=CF_ACCOUNT_ID, namespace_id=default, value=b"c", expiration_ttl=60)
    assert requests.put(
        f"{server.url}/v2/storage/kvs/{sessions}/keys/by-telnyx?ttl_secs=60", data=b"t", headers=BEARER
    ).status_code == 201
    assert server.kv("put", "-n", "default", "by-cli", "k", "--ttl", "60").returncode == 0
    keys = {k.name: k.expiration for k in cf.kv.namespaces.keys.list(account_id=CF_ACCOUNT_ID, namespace_id=default)}
    assert keys == {"by-guest": START_MS // 1000 + 60, "by-cloudflare": START_MS // 1000 + 60, "by-cli": START_MS // 1000 + 60}

    def live():
        browser = f"{server.url}/_edgekv/api/namespaces/{default}/values"
        return {
            "guest": requests.get(f"{server.url}/kv/by-guest").status_code,
            "cloudflare": requests.get(
                f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{default}/values/by-cloudflare",
                headers=BEARER,
            ).status_code,
            "telnyx": requests.get(f"{server.url}/v2/storage/kvs/{sessions}/keys/by-telnyx", headers=BEARER).status_code,
            "browser": requests.get(f"{browser}/by-cli", headers=BEARER).status_code,
            "cli": server.kv("get", "-n", "default", "by-cli").returncode,
        }

    assert live() == {"guest": 200, "cloudflare": 200, "telnyx": 200, "browser": 200, "cli": 0}
    assert clock(server, advance="59s")["now_ms"] == START_MS + 59_000
    assert live() == {"guest": 200, "cloudflare": 200, "telnyx": 200, "browser": 200, "cli": 0}
    assert clock(server, advance="1s")["now_ms"] == START_MS + 60_000
    assert live() == {"guest": 404, "cloudflare": 404, "telnyx": 404, "browser": 404, "cli": 1}
    assert tx.storage.kvs.retrieve(sessions).data.id == sessions


def test_the_times_the_apis_report_are_the_clocks(server):
    clock(server, set="2031-06-15T12:00:00Z")
    control, data = clients(server)
    created = control.create_key_value_store(Name="made-in-2031")["KeyValueStore"]
    assert created["LastModifiedTime"] == datetime.datetime(2031, 6, 15, 12, tzinfo=datetime.timezone.utc)
    clock(server, advance="1h")
    data.put_key(KvsARN=created["ARN"], Key="k", Value="v", IfMatch=data.describe_key_value_store(KvsARN=created["ARN"])["ETag"])
    described = data.describe_key_value_store(KvsARN=created["ARN"])
    assert described["LastModified"] == datetime.datetime(2031, 6, 15, 13, tzinfo=datetime.timezone.utc)
    tx = Telnyx(api_key=API_TOKEN, base_url=f"{server.url}/v2", max_retries=0)
    made = tx.storage.kvs.create(name="made-later").data
    assert made.created_at == datetime.datetime(2031, 6, 15, 13, tzinfo=datetime.timezone.utc)


def test_the_clock_never_moves_back(server):
    clock(server, advance="10m")
    for move in ({"advance": "-5s"}, {"set": "2029-12-31T23:59:59Z"}, {"set": START}):
        r = requests.post(f"{server.url}/_edgekv/api/clock", headers=BEARER, json=move)
        assert r.status_code == 400 and r.json()["error"] == "clock-backwards", (move, r.text)
    too_late = {"advance": "100000000000years"}  # past the year 9999, the latest RFC 3339 can write
    for bad in ({"advance": "soon"}, {"set": "2030-01-01"}, {}, {"advance": "1s", "set": START}, {"jump": "1s"}, too_late):
        r = requests.post(f"{server.url}/_edgekv/api/clock", headers=BEARER, json=bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid-request", (bad, r.text)
    assert clock(server)["now_ms"] == START_MS + 600_000, "a refused move changes nothing"
    # The same time, or any later one, is taken.
    assert clock(server, set="2030-01-01T00:10:00Z")["now_ms"] == START_MS + 600_000
    assert clock(server, set="2030-01-01T02:10:00+02:00")["now_ms"] == START_MS + 600_000


def test_the_clock_needs_the_api_token(server):
    url = f"{server.url}/_edgekv/api/clock"
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Bearer "}):
        assert requests.get(url, headers=headers).status_code == 401
        assert requests.post(url, headers=headers, json={"advance": "1h"}).status_code == 401
    assert clock(server)["now_ms"] == START_MS


def test_edgekv_clock_reads_and_moves_the_servers_clock(server):
    shown = edgekv_clock(server, "show")
    assert shown.returncode == 0 and shown.stdout.strip() == f"{START} (manual clock)", shown
    moved = edgekv_clock(server, "advance", "1h 30m")
    assert moved.returncode == 0 and moved.stdout.strip() == "2030-01-01T01:30:00Z (manual clock)", moved
    assert edgekv_clock(server, "set", "2030-02-01T00:00:00Z").returncode == 0
    back = edgekv_clock(server, "set", START)
    assert back.returncode != 0 and "never moves back" in back.stderr, back
    assert clock(server)["now"] == "2030-02-01T00:00:00Z"
    wrong = subprocess.run(
        [EDGEKV_BIN, "clock", "show", "--server", server.url, "--token", "wrong"], capture_output=True, text=True, timeout=30
    )
    assert wrong.returncode != 0 and "401" in wrong.stderr


# The example guests made from each language's app template (templates/<lang>): `GET /now` is the
# language's own wall clock (Rust's SystemTime, JavaScript's Date.now(), C's timespec_get, Python's
# time.time_ns()).
TEMPLATE_GUESTS = ["rust-kv-api", "js-kv-api", "c-kv-api", "python-kv-lib"]


@pytest.mark.parametrize("name", TEMPLATE_GUESTS)
def test_each_languages_wall_clock_is_the_clocks(edgekv, name):
    server = edgekv(app=guest(name), args=["--clock", "manual", "--start-time", START])
    assert requests.get(f"{server.url}/now").json() == {"now_ms": START_MS}
    clock(server, advance="90s")
    assert requests.get(f"{server.url}/now").json() == {"now_ms": START_MS + 90_000}


def test_on_the_system_clock_nothing_moves(edgekv):
    server = edgekv(app=guest("rust-kv-api"))
    before = clock(server)
    assert before["mode"] == "system"
    r = requests.post(f"{server.url}/_edgekv/api/clock", headers=BEARER, json={"advance": "1h"})
    assert r.status_code == 409 and r.json()["error"] == "clock-not-manual"
    now_ms = datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000
    assert abs(clock(server)["now_ms"] - now_ms) < 60_000
    assert abs(requests.get(f"{server.url}/now").json()["now_ms"] - now_ms) < 60_000
    started = subprocess.run([EDGEKV_BIN, "serve", "--start-time", START, "--data-dir", "/nonexistent"], capture_output=True, text=True)
    assert started.returncode != 0 and "--clock manual" in started.stderr
