"""Starts one edgekv server for the whole test session, on a manual clock, with the `users`
namespace seeded from ../fixtures/users.json, and snapshots it; each test then starts from that
snapshot. Set EDGEKV_BIN (default: `edgekv` on PATH) and EDGEKV_APP (the guest under test; default:
the repository's built rust-kv-api)."""

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
EDGEKV_BIN = os.environ.get("EDGEKV_BIN", "edgekv")
APP = os.environ.get("EDGEKV_APP", str(HERE.parents[2] / "target" / "guests" / "rust-kv-api.wasm"))
TOKEN = "example-token"
START = "2030-01-01T00:00:00Z"

CONFIG = """
[[namespaces]]
binding = "default"
name = "users"
seed = "{seed}"

[[apps]]
route = "/"
component = "{app}"
bindings = ["default"]
"""


class Edgekv:
    """The running server: its URL, and its admin API (clock, snapshots, namespaces)."""

    def __init__(self, url):
        self.url = url
        self.admin = requests.Session()
        self.admin.headers["authorization"] = f"Bearer {TOKEN}"

    def call(self, method, path, body=None):
        r = self.admin.request(method, f"{self.url}/_edgekv/api/{path}", json=body)
        r.raise_for_status()
        return r.json() if r.content else None

    def advance(self, duration):
        return self.call("POST", "clock", {"advance": duration})

    def snapshot(self, name):
        return self.call("POST", "snapshots", {"name": name})

    def restore(self, name):
        return self.call("POST", f"snapshots/{name}/restore")

    def fork(self, namespace, new_name):
        return self.call("POST", f"namespaces/{namespace}/fork", {"name": new_name})


@pytest.fixture(scope="session")
def edgekv(tmp_path_factory):
    home = tmp_path_factory.mktemp("edgekv")
    config = home / "edgekv.toml"
    config.write_text(CONFIG.format(seed=HERE.parent / "fixtures" / "users.json", app=APP))
    server = subprocess.Popen(
        [EDGEKV_BIN, "serve", "--config", config, "--data-dir", home / "data", "--listen", "127.0.0.1:0",
         "--clock", "manual", "--start-time", START],
        env={**os.environ, "EDGEKV_API_TOKEN": TOKEN}, stdout=subprocess.PIPE, text=True,
    )
    url = None
    for line in server.stdout:
        if m := re.match(r"edgekv listening on (http://\S+)", line):
            url = m.group(1)
            break
    assert url, "edgekv did not start"
    threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe drained
    kv = Edgekv(url)
    kv.snapshot("clean")
    yield kv
    server.terminate()
    server.wait()


@pytest.fixture
def kv(edgekv):
    """The server, put back to the seeded data after the test."""
    yield edgekv
    edgekv.restore("clean")
