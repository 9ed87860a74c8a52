"""wrangler (the Cloudflare CLI, installed locally from npm) against edgekv's Cloudflare API:
namespaces, keys with metadata and TTL, bulk operations, and the error it prints for a bad TTL."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import API_TOKEN, CF_ACCOUNT_ID

WRANGLER = Path(__file__).parent / "node" / "node_modules" / ".bin" / "wrangler"


@pytest.fixture
def wrangler(edgekv, tmp_path):
    if not WRANGLER.exists():
        pytest.fail("wrangler is not installed: run `npm ci` in tests/node (tests/run.sh does)")
    server = edgekv()
    env = {
        **os.environ,
        "CLOUDFLARE_API_BASE_URL": f"{server.url}/client/v4",
        "CLOUDFLARE_API_TOKEN": API_TOKEN,
        "CLOUDFLARE_ACCOUNT_ID": CF_ACCOUNT_ID,
        "WRANGLER_SEND_METRICS": "false",
        "WRANGLER_SEND_ERROR_REPORTS": "false",
        "WRANGLER_HIDE_BANNER": "true",
        "DO_NOT_TRACK": "1",
        "CI": "1",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }

    def run(*args, check=True):
        out = subprocess.run([str(WRANGLER), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        if check:
            assert out.returncode == 0, out.stdout + out.stderr
        return out

    return run


def json_tail(text):
    """The first JSON document in wrangler's output."""
    start = min(i for i in (text.find("["), text.find("{")) if i >= 0)
    return json.JSONDecoder().raw_decode(text[start:])[0]


def test_wrangler_namespaces_keys_and_bulk(wrangler, tmp_path):
    wrangler("kv", "namespace", "create", "from-wrangler")
    namespaces = json_tail(wrangler("kv", "namespace", "list").stdout)
    ns = next(n["id"] for n in namespaces if n["title"] == "from-wrangler")

    key = "a/b c%ü"
    wrangler("kv", "key", "put", "--namespace-id", ns, key, "hello", "--metadata", '{"m":1}', "--ttl", "120", "--remote")
    assert wrangler("kv", "key", "get", "--namespace-id", ns, key, "--remote").stdout.strip() == "hello"
    keys = json_tail(wrangler("kv", "key", "list", "--namespace-id", ns, "--remote").stdout)
    assert keys[0]["name"] == key and keys[0]["metadata"] == {"m": 1} and "expiration" in keys[0]

    bulk = tmp_path / "bulk.json"
    bulk.write_text(json.dumps([{"key": "b1", "value": "v1"}, {"key": "b2", "value": "djI=", "base64": True}]))
    names = tmp_path / "keys.json"
    names.write_text(json.dumps(["b1", "b2"]))
    wrangler("kv", "bulk", "put", str(bulk), "--namespace-id", ns, "--remote")
    assert json_tail(wrangler("kv", "bulk", "get", str(names), "--namespace-id", ns, "--remote").stdout) == {"b1": "v1", "b2": "v2"}
    wrangler("kv", "bulk", "delete", str(names), "--namespace-id", ns, "--remote", "--force")
    wrangler("kv", "key", "delete", "--namespace-id", ns, key, "--remote")
    assert json_tail(wrangler("kv", "key", "list", "--namespace-id", ns, "--remote").stdout) == []

    bad = wrangler("kv", "key", "put", "--namespace-id", ns, "k", "v", "--ttl", "30", "--remote", check=False)
    assert bad.returncode != 0
    assert "Invalid expiration_ttl of 30. Expiration TTL must be at least 60. [code: 10034]" in bad.stdout + bad.stderr

    wrangler("kv", "namespace", "rename", "--namespace-id", ns, "--new-name", "renamed")
    assert [n["title"] for n in json_tail(wrangler("kv", "namespace", "list").stdout)] == ["renamed"]
    wrangler("kv", "namespace", "delete", "--namespace-id", ns)
    assert json_tail(wrangler("kv", "namespace", "list").stdout) == []
