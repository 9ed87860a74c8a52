"""Namespace reset and fork, and seeds, against a real server: through the admin API
(`POST /_edgekv/api/namespaces/{namespace}/reset|fork`) and `edgekv kv namespace reset|fork`.
A fork carries keys, values, metadata, content types and expiry (read back through the Cloudflare
REST API and the browser API) and keeps the profile and limits; reset and fork under load leave
other namespaces untouched; a reset under load on its own namespace leaves only writes acknowledged
after it; a guest is pointed at a fork by its binding in the config; a seed is written when its
namespace is created, not on a restart, again on a reseed, and a bad one stops the start."""

import json
import subprocess
import threading
import time
import uuid

import pytest
import requests
from cloudflare import Cloudflare
from urllib.parse import quote

from conftest import API_TOKEN, BACKEND, CF_ACCOUNT_ID, EDGEKV_BIN, guest

ACCT = CF_ACCOUNT_ID
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


def admin(server, method, path, **kwargs):
    headers = {**BEARER, **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}/_edgekv/api/{path}", headers=headers, timeout=60, **kwargs)


def reset(server, namespace, **body):
    return admin(server, "POST", f"namespaces/{namespace}/reset", **({"json": body} if body else {}))


def fork(server, namespace, name):
    return admin(server, "POST", f"namespaces/{namespace}/fork", json={"name": name})


def described(server, name):
    r = admin(server, "GET", "namespaces")
    assert r.status_code == 200, r.text
    found = [n for n in r.json()["namespaces"] if n["name"] == name]
    return found[0] if found else None


def cf_client(server):
    return Cloudflare(api_token=API_TOKEN, base_url=f"{server.url}/client/v4", max_retries=0)


def cf_id(namespace):
    return uuid.UUID(namespace["id"]).hex


def cf_url(server, namespace_id, path=""):
    return f"{server.url}/client/v4/accounts/{ACCT}/storage/kv/namespaces/{namespace_id}{path}"


def cf_value(server, namespace_id, key):
    return cf_url(server, namespace_id, f"/values/{quote(key, safe='')}")


def cf_put(server, namespace_id, key, value):
    return requests.put(cf_value(server, namespace_id, key), data=value, headers=BEARER, timeout=60)


def cf_get(server, namespace_id, key):
    return requests.get(cf_value(server, namespace_id, key), headers=BEARER, timeout=60)


def cf_delete(server, namespace_id, key):
    return requests.delete(cf_value(server, namespace_id, key), headers=BEARER, timeout=60)


def cf_keys(server, namespace_id):
    """Every key of the namespace as the Cloudflare SDK lists it: name -> (expiration, metadata)."""
    keys = cf_client(server).kv.namespaces.keys.list(namespace_id=namespace_id, account_id=ACCT)
    return {k.name: (k.expiration, k.metadata) for k in keys}


def browser_entry(server, namespace, key):
    return admin(server, "GET", f"namespaces/{namespace}/values/{key}")


def browser_put(server, namespace, key, value):
    return admin(server, "PUT", f"namespaces/{namespace}/values/{key}", json={"value": value},
                 headers={"If-None-Match": "*"})


SOURCE_CONFIG = """
[[namespaces]]
binding = "users"
profile = "cloudflare"
"""


def test_a_fork_carries_keys_values_metadata_content_types_and_expiry(edgekv):
    server = edgekv(config=SOURCE_CONFIG)
    source = described(server, "users")
    cf = cf_client(server)
    ns = cf_id(source)
    cf.kv.namespaces.values.update("user/1", account_id=ACCT, namespace_id=ns, value=b"\x00alice\xff",
                                   metadata={"role": "admin"}, expiration_ttl=3600)
    cf.kv.namespaces.values.update("user/2", account_id=ACCT, namespace_id=ns, value=b"bob", metadata={"n": 2})
    put = server.kv("put", "-n", "users", "page", "<p>hi</p>", "--content-type", "text/html")
    assert put.returncode == 0, put.stderr

    r = fork(server, "users", "users-copy")

    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["name"] == "users-copy" and copy["id"] != source["id"]
    assert (copy["profile"], copy["item_count"]) == ("cloudflare", 3)
    assert described(server, "users-copy") == copy
    assert cf_keys(server, cf_id(copy)) == cf_keys(server, ns)
    assert cf_keys(server, ns)["user/1"][0] is not None, "the expiry is part of what is compared"
    for key in ["user/1", "user/2", "page"]:
        assert cf_get(server, cf_id(copy), key).content == cf_get(server, ns, key).content
    assert browser_entry(server, "users-copy", "page").json()["content_type"] == "text/html"
    # Independent both ways.
    assert cf_put(server, ns, "later", "source only").status_code == 200
    assert cf_put(server, cf_id(copy), "user/2", "fork only").status_code == 200
    assert cf_get(server, cf_id(copy), "later").status_code == 404
    assert cf_get(server, ns, "user/2").content == b"bob"
    # The name must be free.
    taken = fork(server, "users", "users-copy")
    assert taken.status_code == 409 and taken.json()["error"] == "namespace-exists", taken.text
    missing = fork(server, "nope", "x")
    assert missing.status_code == 404, missing.text

    # The CLI's fork, on the data dir of the running server.
    out = server.kv("namespace", "fork", "users", "users-cli")
    assert out.returncode == 0, out.stderr
    cli_copy = described(server, "users-cli")
    assert cli_copy["id"] == out.stdout.decode().strip().lower()
    assert cf_keys(server, cf_id(cli_copy)) == cf_keys(server, ns)
    assert browser_entry(server, "users-cli", "page").json()["content_type"] == "text/html"
    again = server.kv("namespace", "fork", "users", "users-cli")
    assert again.returncode != 0 and b"already exists" in again.stderr


LIMITED_CONFIG = """
[[namespaces]]
binding = "kvs"
profile = "cloudfront"
limits = { max_value_bytes = 100 }
"""


def test_a_fork_keeps_the_profile_and_the_limit_overrides(edgekv):
    server = edgekv(config=LIMITED_CONFIG)
    assert browser_put(server, "kvs", "k", "v").status_code == 201
    assert browser_put(server, "kvs", "big", "x" * 101).status_code == 413
    assert fork(server, "kvs", "kvs-api").status_code == 201
    assert server.kv("namespace", "fork", "kvs", "kvs-cli").returncode == 0
    for name in ["kvs-api", "kvs-cli"]:
        copy = described(server, name)
        assert copy["profile"] == "cloudfront"
        refused = browser_put(server, name, "big", "x" * 101)
        assert refused.status_code == 413 and refused.json()["error"] == "value-too-large", refused.text
        assert browser_put(server, name, "fits", "x" * 100).status_code == 201
        assert browser_entry(server, name, "k").json()["text"] == "v"
    # The fork's name follows the profile's naming rule (CloudFront: letters, digits, - and _).
    bad = fork(server, "kvs", "no spaces")
    assert bad.status_code == 400, bad.text
    assert described(server, "no spaces") is None


def test_reset_empties_the_namespace_in_place(edgekv):
    server = edgekv(config=SOURCE_CONFIG)
    before = described(server, "users")
    put = browser_put(server, "users", "a", "1")
    etag = put.json()["etag"]
    assert browser_put(server, "users", "b", "2").status_code == 201

    r = reset(server, "users")

    assert r.status_code == 200, r.text
    after = r.json()
    assert (after["id"], after["name"], after["profile"]) == (before["id"], "users", "cloudflare")
    assert after["item_count"] == 0 and after["version"] > before["version"] + 2
    assert cf_keys(server, cf_id(before)) == {}
    # An ETag read before the reset never matches again, even for the same key and value.
    assert browser_put(server, "users", "a", "1").status_code == 201
    stale = admin(server, "PUT", "namespaces/users/values/a", json={"value": "x"}, headers={"If-Match": etag})
    assert stale.status_code == 412, stale.text

    out = server.kv("namespace", "reset", "users")
    assert out.returncode == 0, out.stderr
    assert cf_keys(server, cf_id(before)) == {}
    assert described(server, "users")["id"] == before["id"]
    assert reset(server, "nope").status_code == 404
    assert server.kv("namespace", "reset", "nope").returncode == 1
    bad_body = admin(server, "POST", "namespaces/users/reset", json={"reseed": "yes"})
    assert bad_body.status_code == 400, bad_body.text


LOAD_CONFIG = """
[[namespaces]]
binding = "fixture"
profile = "cloudflare"

[[namespaces]]
binding = "other"
profile = "cloudflare"
"""


def writers(server, namespace_id, threads=4, writes=60, on_ack=None):
    """Starts `threads` bounded writers of unique keys; returns (threads, results), where results
    collects (key, value, status, sent, acknowledged) per write (monotonic times)."""
    results = []
    lock = threading.Lock()

    def write(n):
        session = requests.Session()
        for i in range(writes):
            key, value = f"w{n}-{i}", f"value {n} {i}"
            sent = time.monotonic()
            try:
                status = session.put(cf_url(server, namespace_id, f"/values/{key}"), data=value,
                                     headers=BEARER, timeout=60).status_code
            except requests.RequestException as e:
                status = repr(e)
            with lock:
                results.append((key, value, status, sent, time.monotonic()))

    started = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for t in started:
        t.start()
    return started, results


def test_reset_and_fork_under_load_leave_other_namespaces_untouched(edgekv):
    server = edgekv(config=LOAD_CONFIG)
    fixture, other = described(server, "fixture"), described(server, "other")
    for i in range(20):
        assert cf_put(server, cf_id(fixture), f"f{i}", "x").status_code == 200
    threads, results = writers(server, cf_id(other))
    forks = 0
    while any(t.is_alive() for t in threads) or forks < 3:
        assert fork(server, "fixture", f"fixture-{forks}").status_code == 201
        assert reset(server, "fixture").status_code == 200
        assert cf_put(server, cf_id(fixture), "f0", "x").status_code == 200
        forks += 1
        if forks >= 40:
            break
    for t in threads:
        t.join()
    assert forks >= 3
    failed = [r for r in results if r[2] != 200]
    assert not failed, failed[:5]
    stored = cf_keys(server, cf_id(other))
    assert set(stored) == {r[0] for r in results}
    for key, value, *_ in results:
        assert cf_get(server, cf_id(other), key).content == value.encode()
    assert described(server, "other")["item_count"] == len(results)
    assert described(server, "fixture-0")["item_count"] == 20


def test_a_reset_under_load_leaves_only_writes_acknowledged_after_it(edgekv):
    server = edgekv(config=LOAD_CONFIG)
    fixture = described(server, "fixture")
    threads, results = writers(server, cf_id(fixture), writes=80)
    # Reset once some writes have been acknowledged, while the writers go on.
    while len(results) < 40 and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    sent = time.monotonic()
    assert reset(server, "fixture").status_code == 200
    done = time.monotonic()
    for t in threads:
        t.join()
    assert all(r[2] == 200 for r in results), [r for r in results if r[2] != 200][:5]
    stored = set(cf_keys(server, cf_id(fixture)))
    acknowledged = {r[0] for r in results}
    assert stored <= acknowledged
    before = {r[0] for r in results if r[4] < sent}
    after = {r[0] for r in results if r[3] > done}
    assert before, "some writes were acknowledged before the reset"
    assert not stored & before, sorted(stored & before)[:5]
    assert after <= stored, sorted(after - stored)[:5]


GUEST_CONFIG = """
[[namespaces]]
binding = "default"
name = "{name}"
profile = "cloudflare"

[[apps]]
route = "/"
component = "{component}"
bindings = ["default"]
"""


def test_a_guest_binding_can_be_pointed_at_a_fork(edgekv, guests_dir, tmp_path):
    component = guest("rust-kv-api")
    server = edgekv(config=GUEST_CONFIG.format(name="fixture", component=component))
    put = requests.put(f"{server.url}/kv/greeting", data="from the fixture", timeout=60)
    assert put.status_code < 300, put.text
    assert fork(server, "fixture", "fixture-t1").status_code == 201
    assert browser_put(server, "fixture-t1", "only-in-fork", "forked").status_code == 201

    # The config edgekv's fixture wrote for this server: bind `default` to the fork.
    (tmp_path / "edgekv-0.toml").write_text(GUEST_CONFIG.format(name="fixture-t1", component=component))
    server.restart()

    assert requests.get(f"{server.url}/kv/only-in-fork", timeout=60).content == b"forked"
    assert requests.get(f"{server.url}/kv/greeting", timeout=60).content == b"from the fixture"
    assert requests.put(f"{server.url}/kv/greeting", data="changed in the fork", timeout=60).status_code < 300
    assert browser_entry(server, "fixture", "greeting").json()["text"] == "from the fixture"
    assert browser_entry(server, "fixture-t1", "greeting").json()["text"] == "changed in the fork"


SEED = [
    {"key": "user/alice", "value": "{\"name\": \"Alice\"}", "metadata": {"role": "admin"}},
    {"key": "user/bob", "value": "Ym9i", "base64": True, "expiration_ttl": 3600},
]

SEEDED_CONFIG = """
[[namespaces]]
binding = "users"
profile = "{profile}"
seed = "fixtures/users.json"

[[namespaces]]
binding = "plain"
profile = "cloudflare"
"""


def write_seed(tmp_path, items):
    (tmp_path / "fixtures").mkdir(exist_ok=True)
    (tmp_path / "fixtures" / "users.json").write_text(json.dumps(items))


def test_a_seed_is_written_at_first_start_not_on_restart_and_again_on_reseed(edgekv, tmp_path):
    write_seed(tmp_path, SEED)
    server = edgekv(config=SEEDED_CONFIG.format(profile="cloudflare"))
    ns = cf_id(described(server, "users"))
    keys = cf_keys(server, ns)
    assert set(keys) == {"user/alice", "user/bob"}
    assert keys["user/alice"][1] == {"role": "admin"} and keys["user/bob"][0] is not None
    assert cf_get(server, ns, "user/bob").content == b"bob"

    assert cf_delete(server, ns, "user/alice").status_code == 200
    server.restart()
    assert set(cf_keys(server, ns)) == {"user/bob"}, "a restart does not write the seed again"

    assert cf_put(server, ns, "extra", "x").status_code == 200
    r = reset(server, "users", reseed=True)
    assert r.status_code == 200, r.text
    assert r.json()["item_count"] == 2
    assert set(cf_keys(server, ns)) == {"user/alice", "user/bob"}
    assert cf_get(server, ns, "user/alice").content == b"{\"name\": \"Alice\"}"

    assert cf_delete(server, ns, "user/bob").status_code == 200
    config = str(tmp_path / "edgekv-0.toml")
    out = server.kv("--config", config, "namespace", "reset", "users", "--reseed")
    assert out.returncode == 0, out.stderr
    assert set(cf_keys(server, ns)) == {"user/alice", "user/bob"}

    no_config = server.kv("namespace", "reset", "users", "--reseed")
    assert no_config.returncode != 0 and b"--config" in no_config.stderr
    no_seed = reset(server, "plain", reseed=True)
    assert no_seed.status_code == 400 and no_seed.json()["error"] == "no-seed", no_seed.text
    cli_no_seed = server.kv("--config", config, "namespace", "reset", "plain", "--reseed")
    assert cli_no_seed.returncode != 0 and b"no seed" in cli_no_seed.stderr

    # A seed that went bad since: the reseed names the key and the rule, and writes nothing.
    write_seed(tmp_path, [{"key": "ok", "value": "1"}, {"key": ".", "value": "2"}])
    bad = reset(server, "users", reseed=True)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid-key", bad.text
    assert "users.json" in bad.json()["message"] and '"."' in bad.json()["message"]
    bad_cli = server.kv("--config", config, "namespace", "reset", "users", "--reseed")
    assert bad_cli.returncode == 3 and b'"."' in bad_cli.stderr, bad_cli.stderr
    assert set(cf_keys(server, ns)) == {"user/alice", "user/bob"}


@pytest.mark.parametrize("case", ["rule", "json", "missing"])
def test_a_bad_seed_stops_the_start_naming_the_file_key_and_rule(edgekv, tmp_path, case):
    if case == "rule":
        write_seed(tmp_path, [{"key": "good", "value": "1"}, {"key": "bad key", "value": "2"}])
        expected = ["users.json", "\"bad key\"", "key_charset"]
    elif case == "json":
        (tmp_path / "fixtures").mkdir()
        (tmp_path / "fixtures" / "users.json").write_text("[{\"key\": \"k\"")
        expected = ["users.json", "bulk JSON"]
    else:
        expected = ["users.json", "No such file"]
    with pytest.raises(RuntimeError) as e:
        edgekv(config=SEEDED_CONFIG.format(profile="telnyx"))
    for text in expected:
        assert text in str(e.value), str(e.value)
    if BACKEND == "sqlite":
        listed = [
            json.loads(line)["name"]
            for line in subprocess.run(
                [EDGEKV_BIN, "kv", "--data-dir", str(tmp_path / "data-0"), "namespace", "list", "--json"],
                capture_output=True, check=True,
            ).stdout.decode().splitlines()
        ]
        assert "users" not in listed, listed


@pytest.mark.parametrize("route", ["reset", "fork"])
def test_the_new_routes_refuse_missing_and_wrong_credentials(edgekv, route):
    server = edgekv(config=SOURCE_CONFIG)
    url = f"{server.url}/_edgekv/api/namespaces/users/{route}"
    body = {"name": "stolen"} if route == "fork" else {}
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic OmVkZ2Vrdi10ZXN0LXRva2Vu"}]:
        r = requests.post(url, json=body, headers=headers, timeout=60)
        assert r.status_code == 401, (headers, r.status_code, r.text)
    assert described(server, "stolen") is None
    assert browser_put(server, "users", "k", "v").status_code == 201
    assert described(server, "users")["item_count"] == 1
    # The same request with the token is served.
    r = requests.post(url, json=body, headers=BEARER, timeout=60)
    assert r.status_code == (201 if route == "fork" else 200), r.text
    assert described(server, "users")["item_count"] == (1 if route == "fork" else 0)
