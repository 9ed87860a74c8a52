"""The data browser at /_edgekv/: its auth and write guards over HTTP, and the whole flow (list,
page, search, open text/JSON/binary, edit with a stale ETag refused, edit, delete) in headless
Chromium driven by tests/node/browser_flow.mjs. Screenshots go to $EDGEKV_TEST_OUTPUT (default: the
test's temporary dir), never into the repo."""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, REPO

CONFIG = """
[[namespaces]]
binding = "default"
name = "browse-me"
profile = "cloudflare"
"""

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
BASIC = "Basic " + base64.b64encode(f"edgekv:{API_TOKEN}".encode()).decode()


def kv(server, *args):
    done = server.kv(*args, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def seed(server, tmp_path):
    users = [{"key": f"user/{i:02}", "value": f"user {i}"} for i in range(60)]
    (tmp_path / "users.json").write_text(json.dumps(users))
    kv(server, "import", "-n", "browse-me", str(tmp_path / "users.json"))
    kv(server, "put", "-n", "browse-me", "greeting", "hello")
    kv(server, "put", "-n", "browse-me", "config", '{"a":1,"b":[true,null]}',
       "--content-type", "application/json", "--metadata", '{"owner":"ops"}')
    (tmp_path / "blob.bin").write_bytes(bytes([0, 255, 16, 128]) + bytes(range(256)))
    kv(server, "put", "-n", "browse-me", "blob", "--file", str(tmp_path / "blob.bin"))
    listed = [json.loads(line) for line in kv(server, "namespace", "list", "--json").splitlines()]
    return next(ns["id"] for ns in listed if ns["name"] == "browse-me")


@pytest.fixture
def server(edgekv):
    return edgekv(config=CONFIG)


def test_browser_needs_the_api_token(server):
    url = f"{server.url}/_edgekv/"
    r = requests.get(url)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    wrong = "Basic " + base64.b64encode(b"edgekv:wrong").decode()
    assert requests.get(url, headers={"authorization": wrong}).status_code == 401
    assert requests.get(url, headers={"authorization": "Bearer nope"}).status_code == 401
    assert requests.get(f"{server.url}/_edgekv/api/namespaces").status_code == 401
    page = requests.get(url, headers={"authorization": BASIC})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text, "the page must not load external assets"
    bearer = requests.get(f"{server.url}/_edgekv/api/namespaces", headers={"authorization": f"Bearer {API_TOKEN}"})
    assert [ns["name"] for ns in bearer.json()["namespaces"]] == ["browse-me"]


def test_browser_writes_need_the_guard_header_and_an_etag(server, tmp_path):
    ns = seed(server, tmp_path)
    value = f"{server.url}/_edgekv/api/namespaces/{ns}/values/greeting"
    auth = {"authorization": BASIC}
    entry = requests.get(value, headers=auth).json()
    assert entry["text"] == "hello" and entry["etag"]
    edit = {"value": "x", "encoding": "text"}
    # A cross-site form cannot set custom headers: without the guard, no write.
    r = requests.put(value, headers={**auth, "if-match": entry["etag"]}, json=edit)
    assert r.status_code == 403
    assert requests.delete(value, headers={**auth, "if-match": entry["etag"]}).status_code == 403
    guard = {**auth, "x-edgekv-browser": "1"}
    assert requests.put(value, headers=guard, json=edit).status_code == 428
    stale = requests.put(value, headers={**guard, "if-match": "not-the-etag"}, json=edit)
    assert stale.status_code == 412 and stale.json()["current_etag"] == entry["etag"]
    # The store's rules apply: a 513-byte key is refused as on every other path.
    long_key = f"{server.url}/_edgekv/api/namespaces/{ns}/values/{'k' * 513}"
    r = requests.put(long_key, headers={**guard, "if-none-match": "*"}, json=edit)
    assert r.status_code == 400 and r.json()["error"] == "invalid-key"
    assert requests.get(value, headers=auth).json()["text"] == "hello"


def test_browser_on_the_admin_listener_only(edgekv):
    server = edgekv(config=CONFIG, args=["--admin-listen", "127.0.0.1:0"])
    assert requests.get(f"{server.url}/_edgekv/", headers={"authorization": BASIC}).status_code == 404
    admin = server.wait_for_log(r"data browser: (http://127\.0\.0\.1:\d+)/_edgekv/").group(1)
    assert admin != server.url
    assert requests.get(f"{admin}/_edgekv/").status_code == 401
    assert requests.get(f"{admin}/_edgekv/", headers={"authorization": BASIC}).status_code == 200


def test_browser_flow_in_headless_chromium(server, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: tests/run.sh installs Debian's chromium package")
    if shutil.which("node") is None:
        pytest.fail("node is not installed")
    ns = seed(server, tmp_path)
    out = Path(os.environ.get("EDGEKV_TEST_OUTPUT") or tmp_path) / "browser-screenshots"
    done = subprocess.run(
        ["node", str(REPO / "tests" / "node" / "browser_flow.mjs"), server.url, API_TOKEN, CF_ACCOUNT_ID, ns, str(out)],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(out.glob("*.png"))) >= 7
