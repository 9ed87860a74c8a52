"""`edgekv kv` against the data dir of a running server: what the CLI writes a guest serves and the
other way round, exit codes, and a 100,000-key import/export round trip."""

import base64
import subprocess
import json
import time

import pytest
import requests

from conftest import EDGEKV_BIN, guest


def test_cli_and_guest_share_the_data_dir(edgekv, guests_dir):
    server = edgekv(app=guest("rust-kv-api"))
    out = server.kv("put", "-n", "default", "from-cli", "hello guest", "--metadata", '{"by": "cli"}', "--ttl", "3600")
    assert out.returncode == 0, out.stderr
    r = requests.get(f"{server.url}/kv/from-cli")
    assert r.status_code == 200 and r.content == b"hello guest" and json.loads(r.headers["x-metadata"]) == {"by": "cli"}
    assert requests.put(f"{server.url}/kv/from-guest", data=b"\x00\x01 binary").status_code == 201
    got = server.kv("get", "-n", "default", "from-guest")
    assert got.returncode == 0 and got.stdout == b"\x00\x01 binary"
    described = json.loads(server.kv("get", "-n", "default", "from-cli", "--json").stdout)
    assert described["value"] == "hello guest" and described["metadata"] == {"by": "cli"} and described["etag"]
    assert server.kv("put", "-n", "default", "stdin-key", input=b"from stdin").returncode == 0
    assert requests.get(f"{server.url}/kv/stdin-key").content == b"from stdin"
    listed = server.kv("list", "-n", "default", "--prefix", "from-").stdout.decode().split()
    assert listed == ["from-cli", "from-guest"]
    assert server.kv("delete", "-n", "default", "from-cli").returncode == 0
    assert requests.get(f"{server.url}/kv/from-cli").status_code == 404


def test_exit_codes(edgekv):
    server = edgekv()
    assert server.kv("namespace", "create", "codes").returncode == 0
    missing = server.kv("get", "-n", "codes", "nope")
    assert missing.returncode == 1
    assert server.kv("get", "-n", "no-such-namespace", "k").returncode == 1
    rule = server.kv("put", "-n", "codes", "k", "v", "--ttl", "30")
    assert rule.returncode == 3 and b"ttl_too_short" in rule.stderr
    # Words a person reads, then the rule's name.
    assert b"expiration_ttl" not in rule.stderr.split(b"(rule")[0], rule.stderr
    assert rule.stderr.decode().rstrip().endswith("(rule ttl_too_short)"), rule.stderr
    named = server.kv("namespace", "create", "")
    assert named.returncode == 3 and b"(rule namespace_name)" in named.stderr, named.stderr
    assert b"namespace_name:" not in named.stderr, named.stderr
    assert server.kv("put", "-n", "codes").returncode == 2  # usage: no key
    tx = server.kv("namespace", "create", "tx-no-ttl", "--profile", "telnyx", "--no-ttl")
    assert tx.returncode == 0
    assert server.kv("put", "-n", "tx-no-ttl", "k", "v", "--ttl", "10").returncode == 3
    names = [json.loads(line)["name"] for line in server.kv("namespace", "list", "--json").stdout.splitlines()]
    assert names == ["codes", "tx-no-ttl"]


def test_import_100k_keys_then_export_round_trips_byte_for_byte(edgekv, tmp_path):
    server = edgekv()
    items = []
    for i in range(100_000):
        if i % 10 == 0:
            items.append({"key": f"bin/{i:06}", "value": base64.b64encode(bytes([i % 256, 0, 255])).decode(), "base64": True})
        elif i % 10 == 1:
            items.append({"key": f"meta/{i:06}", "value": f"v{i}", "metadata": {"i": i}})
        else:
            items.append({"key": f"text/{i:06}", "value": f"value {i} ünïcødé"})
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(items))
    for name in ("first", "second"):
        assert server.kv("namespace", "create", name).returncode == 0
    out = server.kv("import", "-n", "first", str(seed))
    assert out.returncode == 0, out.stderr
    exported = tmp_path / "first.json"
    assert server.kv("export", "-n", "first", "-o", str(exported)).returncode == 0
    assert server.kv("import", "-n", "second", str(exported)).returncode == 0
    again = tmp_path / "second.json"
    assert server.kv("export", "-n", "second", "-o", str(again)).returncode == 0
    assert exported.read_bytes() == again.read_bytes()
    back = {item["key"]: item for item in json.loads(exported.read_text())}
    assert len(back) == 100_000
    assert base64.b64decode(back["bin/000010"]["value"]) == bytes([10, 0, 255])
    assert back["meta/000011"]["metadata"] == {"i": 11}
    assert back["text/000012"]["value"] == "value 12 ünïcødé"


def test_import_takes_float_expirations_as_the_rest_bulk_write_does(edgekv, tmp_path):
    server = edgekv()
    server.kv("namespace", "create", "floats")
    at = int(time.time()) + 3600
    seed = tmp_path / "floats.json"
    seed.write_text(json.dumps([
        {"key": "float", "value": "f", "expiration": at + 0.75},
        {"key": "ttl-wins", "value": "t", "expiration": 1, "expiration_ttl": 7200.5, "metadata": {"m": 1}},
        {"key": "bin", "value": base64.b64encode(b"\x00\xff").decode(), "base64": True},
    ]))
    out = server.kv("import", "-n", "floats", str(seed))
    assert out.returncode == 0, out.stderr
    described = json.loads(server.kv("get", "-n", "floats", "float", "--json").stdout)
    assert described["expires_at_ms"] == at * 1000
    ttl = json.loads(server.kv("get", "-n", "floats", "ttl-wins", "--json").stdout)["expires_at_ms"]
    assert at * 1000 < ttl <= (time.time() + 7201) * 1000
    exported = tmp_path / "floats-out.json"
    assert server.kv("export", "-n", "floats", "-o", str(exported)).returncode == 0
    items = {item["key"]: item for item in json.loads(exported.read_text())}
    assert items["float"] == {"key": "float", "value": "f", "expiration": at}
    assert items["bin"] == {"key": "bin", "value": "AP8=", "base64": True}
    assert items["ttl-wins"]["metadata"] == {"m": 1} and items["ttl-wins"]["expiration"] == ttl // 1000
    server.kv("namespace", "create", "floats-again")
    assert server.kv("import", "-n", "floats-again", str(exported)).returncode == 0
    again = tmp_path / "floats-again.json"
    assert server.kv("export", "-n", "floats-again", "-o", str(again)).returncode == 0
    assert again.read_bytes() == exported.read_bytes()


def test_import_is_all_or_nothing(edgekv, tmp_path):
    server = edgekv()
    server.kv("namespace", "create", "atomic")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"key": "ok", "value": "v"}, {"key": "k" * 513, "value": "v"}]))
    out = server.kv("import", "-n", "atomic", str(bad))
    assert out.returncode == 3 and b"key_too_large" in out.stderr
    assert server.kv("list", "-n", "atomic").stdout == b""


@pytest.mark.sqlite_only("the CLI writes the data dir's SQLite file before any server runs")
def test_a_write_before_the_first_start_makes_the_namespace_serve_would(edgekv, tmp_path):
    data_dir = tmp_path / "data-0"  # where the fixture's first server keeps its data

    def kv(*args):
        return subprocess.run([EDGEKV_BIN, "kv", "--data-dir", str(data_dir), *args], capture_output=True, timeout=60)

    # As the README's order has it: data first, then `edgekv serve app.wasm` on the same data dir.
    put = kv("put", "-n", "default", "greeting", "hello")
    assert put.returncode == 0, put.stderr
    assert kv("get", "-n", "default", "greeting").stdout == b"hello"
    # A namespace nothing declares is not made up.
    other = kv("put", "-n", "other", "k", "v")
    assert other.returncode == 1 and b"namespace not found: other" in other.stderr
    described = [json.loads(line) for line in kv("namespace", "list", "--json").stdout.splitlines()]
    assert [(n["name"], n["profile"]) for n in described] == [("default", "cloudflare")]
    server = edgekv(app=guest("rust-kv-api"))
    assert server.data_dir == data_dir
    assert requests.get(f"{server.url}/kv/greeting").content == b"hello"
