"""The data browser at /_edgekv/ on its own listener: its auth and write guards over HTTP, the
headers that keep it out of frames and other origins, the main port's /_edgekv/api/ taking only
the bearer token, the whole flow (list, page, search, open text/JSON/binary, edit with a stale
ETag refused, edit, delete) in headless Chromium driven by tests/node/browser_flow.mjs, and a page a
guest serves trying every way to use a signed-in browser's credentials (tests/node/browser_attack.mjs).
Screenshots go to $EDGEKV_TEST_OUTPUT (default: the test's temporary dir), never into the repo."""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, REPO, guest

CONFIG = """
[[namespaces]]
binding = "default"
name = "browse-me"
profile = "cloudflare"
"""

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
BASIC = "Basic " + base64.b64encode(f"edgekv:{API_TOKEN}".encode()).decode()


BEARER = {"authorization": f"Bearer {API_TOKEN}"}


def browser_url(server):
    """The data browser's origin, as `edgekv serve` prints it."""
    return server.wait_for_log(r"data browser: (http://127\.0\.0\.1:\d+)/_edgekv/").group(1)


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
    browser = browser_url(server)
    assert browser != server.url, "the browser never shares the guests' origin"
    url = f"{browser}/_edgekv/"
    r = requests.get(url)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    wrong = "Basic " + base64.b64encode(b"edgekv:wrong").decode()
    assert requests.get(url, headers={"authorization": wrong}).status_code == 401
    assert requests.get(url, headers={"authorization": "Bearer nope"}).status_code == 401
    assert requests.get(f"{browser}/_edgekv/api/namespaces").status_code == 401
    page = requests.get(url, headers={"authorization": BASIC})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text, "the page must not load external assets"
    for auth in (BASIC, f"Bearer {API_TOKEN}"):
        listed = requests.get(f"{browser}/_edgekv/api/namespaces", headers={"authorization": auth})
        assert [ns["name"] for ns in listed.json()["namespaces"]] == ["browse-me"]
    # The browser's listener serves the browser and nothing else.
    assert requests.get(f"{browser}/v2/storage/kvs", headers=BEARER).status_code == 404


def test_browser_responses_refuse_frames_sniffing_and_other_origins(server):
    browser = browser_url(server)
    responses = [
        requests.get(f"{browser}/_edgekv/", headers={"authorization": BASIC}),
        requests.get(f"{browser}/_edgekv/api/namespaces", headers={"authorization": BASIC}),
        requests.get(f"{browser}/_edgekv/api/namespaces"),
        requests.get(f"{browser}/_edgekv/api/nothing", headers={"authorization": BASIC}),
        requests.options(f"{browser}/_edgekv/api/namespaces",
                         headers={"origin": server.url, "access-control-request-method": "PUT"}),
        requests.get(f"{server.url}/_edgekv/api/namespaces", headers={**BEARER, "origin": browser}),
    ]
    for r in responses:
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], r.url
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["cross-origin-resource-policy"] == "same-origin", r.url
        assert not [h for h in r.headers if h.lower().startswith("access-control-")], (r.url, r.headers)
    page_csp = responses[0].headers["content-security-policy"]
    script_src = page_csp.split("script-src")[1].split(";")[0]
    assert "'sha256-" in script_src and "unsafe-inline" not in script_src, page_csp


def test_the_main_port_takes_only_the_bearer_token(server):
    # Guests share the main port's origin: a credential the browser attaches by itself (Basic)
    # must count for nothing there, and no page is served that would make a browser sign in.
    api = f"{server.url}/_edgekv/api/namespaces"
    basic = requests.get(api, headers={"authorization": BASIC})
    assert basic.status_code == 401 and basic.headers["www-authenticate"].startswith("Bearer")
    assert requests.get(api, cookies={"session": API_TOKEN}).status_code == 401
    assert requests.get(f"{server.url}/_edgekv/", headers={"authorization": BASIC}).status_code == 401
    assert requests.get(f"{server.url}/_edgekv/", headers=BEARER).status_code == 404
    listed = requests.get(api, headers=BEARER)
    assert [ns["name"] for ns in listed.json()["namespaces"]] == ["browse-me"]


def test_browser_writes_need_the_guard_header_and_an_etag(server, tmp_path):
    ns = seed(server, tmp_path)
    browser = browser_url(server)
    value = f"{browser}/_edgekv/api/namespaces/{ns}/values/greeting"
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
    long_key = f"{browser}/_edgekv/api/namespaces/{ns}/values/{'k' * 513}"
    r = requests.put(long_key, headers={**guard, "if-none-match": "*"}, json=edit)
    assert r.status_code == 400 and r.json()["error"] == "invalid-key"
    assert requests.get(value, headers=auth).json()["text"] == "hello"


def test_a_script_writing_with_the_bearer_token_needs_no_guard(server, tmp_path):
    # A browser never attaches a Bearer token by itself, so a script's write with one is no
    # cross-site request: on the page's listener and on the guests' alike, it needs no guard.
    ns = seed(server, tmp_path)
    for origin in (browser_url(server), server.url):
        value = f"{origin}/_edgekv/api/namespaces/{ns}/values/from-a-script"
        current = requests.get(value, headers=BEARER)
        precondition = {"if-match": current.json()["etag"]} if current.ok else {"if-none-match": "*"}
        r = requests.put(value, headers={**BEARER, **precondition}, json={"value": origin, "encoding": "text"})
        assert r.status_code in (200, 201), r.text
        assert requests.get(value, headers=BEARER).json()["text"] == origin


def test_browser_on_the_admin_listener_only(edgekv):
    server = edgekv(config=CONFIG, args=["--admin-listen", "127.0.0.1:0"])
    assert requests.get(f"{server.url}/_edgekv/", headers={"authorization": BASIC}).status_code == 404
    admin = server.wait_for_log(r"data browser: (http://127\.0\.0\.1:\d+)/_edgekv/").group(1)
    assert admin != server.url
    assert requests.get(f"{admin}/_edgekv/").status_code == 401
    assert requests.get(f"{admin}/_edgekv/", headers={"authorization": BASIC}).status_code == 200


def test_browser_listen_chooses_the_browser_address(edgekv):
    server = edgekv(config=CONFIG, args=["--admin-listen", "127.0.0.1:0", "--browser-listen", "127.0.0.1:0"])
    admin = server.wait_for_log(r"management APIs: (http://127\.0\.0\.1:\d+)/client/v4").group(1)
    browser = browser_url(server)
    assert len({server.url, admin, browser}) == 3
    assert requests.get(f"{browser}/_edgekv/", headers={"authorization": BASIC}).status_code == 200
    # The admin listener keeps the management APIs; the browser's API there is for scripts.
    assert requests.get(f"{admin}/_edgekv/api/namespaces", headers={"authorization": BASIC}).status_code == 401
    assert requests.get(f"{admin}/_edgekv/api/namespaces", headers=BEARER).status_code == 200


def need_chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: tests/run.sh installs Debian's chromium package")
    if shutil.which("node") is None:
        pytest.fail("node is not installed")


def test_browser_flow_in_headless_chromium(server, tmp_path):
    need_chromium()
    ns = seed(server, tmp_path)
    out = Path(os.environ.get("EDGEKV_TEST_OUTPUT") or tmp_path) / "browser-screenshots"
    done = subprocess.run(
        ["node", str(REPO / "tests" / "node" / "browser_flow.mjs"), server.url, browser_url(server), API_TOKEN,
         CF_ACCOUNT_ID, ns, str(out)],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(out.glob("*.png"))) >= 7


ATTACK_CONFIG = """
[[namespaces]]
binding = "default"
name = "browse-me"
profile = "cloudflare"

[[namespaces]]
binding = "private"
name = "private-{marker}"
profile = "cloudflare"

[[apps]]
route = "/"
component = "{app}"
bindings = ["default"]
"""

SECRET = "secret-value-9f3c1e"


def store_state(server):
    """Every namespace (its version moves on every write) and the secret's value, read with the
    bearer token on the main port."""
    listed = requests.get(f"{server.url}/_edgekv/api/namespaces", headers=BEARER).json()["namespaces"]
    state = {ns["name"]: (ns["id"], ns["version"], ns["item_count"], ns["total_bytes"]) for ns in listed}
    for ns in listed:
        entry = requests.get(f"{server.url}/_edgekv/api/namespaces/{ns['id']}/values/secret", headers=BEARER)
        state[ns["name"] + "/secret"] = (entry.status_code, entry.json().get("text"), entry.json().get("etag"))
    return state


def test_a_page_a_guest_serves_cannot_use_a_signed_in_browser(edgekv, guests_dir, tmp_path):
    """A guest serves whatever it stores: here an HTML page whose script tries to read and change
    keys through the browser API with the credentials a signed-in browser attaches by itself."""
    need_chromium()
    marker = "a1b2c3"
    server = edgekv(config=ATTACK_CONFIG.format(marker=marker, app=guest("rust-kv-api")))
    browser = browser_url(server)
    kv(server, "put", "-n", "browse-me", "secret", SECRET)
    kv(server, "put", "-n", f"private-{marker}", "secret", SECRET)
    before = store_state(server)
    ns_id, _, _, _ = before["browse-me"]
    etag = before["browse-me/secret"][2]
    page = (REPO / "tests" / "node" / "attack_page.html").read_text()
    for name, value in {"__BROWSER__": browser, "__NS__": ns_id, "__ETAG__": etag}.items():
        page = page.replace(name, value)
    stored = requests.put(f"{server.url}/kv/attack.html", data=page.encode(),
                          headers={"content-type": "text/html; charset=utf-8"})
    assert stored.status_code in (200, 201), stored.text
    before = store_state(server)
    served = requests.get(f"{server.url}/kv/attack.html")
    assert served.headers["content-type"].startswith("text/html")

    done = subprocess.run(
        ["node", str(REPO / "tests" / "node" / "browser_attack.mjs"), browser, f"{server.url}/kv/attack.html",
         API_TOKEN],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["signed_in"], "the browser was signed in to the data browser first"
    attempts = report["attempts"]
    assert len(attempts) >= 20, attempts
    # Nothing changed in the store, the page saw nothing of it, and no attempt got through.
    assert store_state(server) == before
    leaked = [a for a in attempts if SECRET in json.dumps(a) or marker in json.dumps(a)]
    assert not leaked, leaked
    succeeded = [a for a in attempts if 200 <= (a.get("status") or 0) < 300 or a.get("read")]
    assert not succeeded, succeeded
