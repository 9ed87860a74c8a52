"""`edgekv kv copy --to URL`: 100,000 keys copied from a SQLite data dir into PostgreSQL and from
there into a new SQLite file come back byte for byte (namespaces, values, metadata, content types,
expiry, versions, so every ETag), an entry expired at the copy is left out, both copies print the
same counts and checksum, and a destination holding a clashing namespace is refused with nothing
written. Needs a PostgreSQL server: tests/run.sh starts a throwaway one and exports
EDGEKV_TEST_POSTGRES_URL (tests/postgres.sh)."""

import base64
import json
import os
import re
import sqlite3
import subprocess
import time

import pytest

from conftest import EDGEKV_BIN, POSTGRES_URL

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="EDGEKV_TEST_POSTGRES_URL is not set: start a server with `eval \"$(tests/postgres.sh start)\"`",
)

SUMMARY = re.compile(
    r"^copied (\d+) namespaces, (\d+) keys; checksum (sha256:[0-9a-f]{64}) \(source and destination agree\)$"
)
BULK_KEYS = 99_990
# Accepted and ignored by the test server (trust authentication); never to be shown.
PASSWORD = "not-to-be-shown-3141"


@pytest.fixture
def database(database):
    """conftest's database of this test's own, its URL with a password in it."""
    scheme, rest = database.split("://", 1)
    userinfo, host = rest.rsplit("@", 1)
    return f"{scheme}://{userinfo.split(':')[0]}:{PASSWORD}@{host}"


def kv(store, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if k != "EDGEKV_STORE_URL"}
    return subprocess.run(
        [EDGEKV_BIN, "kv", "--store", store, *args], input=stdin, capture_output=True, env=env, timeout=120
    )


def ok(result):
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def copy(source, destination):
    """Runs a copy; returns its summary line's counts and checksum."""
    out = ok(kv(source, "copy", "--to", destination))
    printed = out.stdout.decode() + out.stderr.decode()
    assert PASSWORD not in printed
    match = SUMMARY.match(out.stdout.decode().strip())
    assert match, out.stdout
    return int(match[1]), int(match[2]), match[3]


def value(i):
    """Values of mixed sizes, some binary."""
    if i % 1000 == 0:
        return bytes((i + j) % 256 for j in range(64 * 1024))
    if i % 50 == 0:
        return os.urandom(2048)
    return f"value {i} ".encode() * (1 + i % 7)


def bulk_item(i):
    raw = value(i)
    item = {"key": f"key/{i:06d}"}
    try:
        item["value"] = raw.decode()
    except UnicodeDecodeError:
        item["value"], item["base64"] = base64.b64encode(raw).decode(), True
    if i % 3 == 0:
        item["metadata"] = {"i": i, "tags": ["a", "b"][: i % 2 + 1]}
    if i % 7 == 0:
        item["expiration_ttl"] = 3600 + i
    return item


def seed(store, tmp_path):
    """A Cloudflare namespace of 99,990 keys, a Telnyx namespace with content types and one key
    that will have expired by the copy, and a CloudFront namespace: 100,000 live keys."""
    ok(kv(store, "namespace", "create", "bulk"))
    ok(kv(store, "namespace", "create", "telnyx-kv", "--profile", "telnyx"))
    ok(kv(store, "namespace", "create", "cloudfront-kv", "--profile", "cloudfront"))
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps([bulk_item(i) for i in range(BULK_KEYS)]))
    ok(kv(store, "import", "-n", "bulk", str(seed_file)))
    for i in range(5):
        ok(kv(store, "put", "-n", "telnyx-kv", f"doc-{i}.json", json.dumps({"i": i}),
              "--content-type", "application/json", "--ttl", "86400"))
    ok(kv(store, "put", "-n", "telnyx-kv", "short-lived", "gone", "--ttl", "1"))
    ok(kv(store, "put", "-n", "telnyx-kv", "binary", "--content-type", "application/octet-stream",
          stdin=b"\x00\xff binary"))
    for i in range(4):
        ok(kv(store, "put", "-n", "cloudfront-kv", f"cf-{i}", f"small value {i}"))


NAMESPACE_COLUMNS = (
    "id, name, profile, ttl_enabled, status, comment, overrides, version, item_count, total_bytes, "
    "created_at, modified_at"
)


def rows(path):
    """Every namespace and entry row of a SQLite store, exactly as stored, in byte order."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        namespaces = db.execute(f"SELECT {NAMESPACE_COLUMNS} FROM namespaces ORDER BY id").fetchall()
        entries = db.execute(
            "SELECT n.id, e.key, e.value, e.metadata, e.content_type, e.expires_at, e.version, e.modified_at "
            "FROM entries e JOIN namespaces n ON n.seq = e.ns ORDER BY n.id, e.key"
        ).fetchall()
    finally:
        db.close()
    return namespaces, entries


def test_a_hundred_thousand_keys_round_trip_through_postgres_byte_for_byte(tmp_path, database):
    original = tmp_path / "laptop" / "kv.sqlite3"
    seed(str(original), tmp_path)
    time.sleep(1.5)  # "short-lived" (TTL 1 s) has expired: the copies must leave it out

    there = copy(str(original), database)
    back_path = tmp_path / "back" / "kv.sqlite3"
    back = copy(database, f"sqlite://{back_path}")
    assert there == back == (3, 100_000, there[2])

    namespaces, entries = rows(original)
    got_namespaces, got_entries = rows(back_path)
    expired = [e for e in entries if e[1] == b"short-lived"]
    assert len(expired) == 1, "the original still holds the expired row (nothing swept it)"
    assert got_entries == [e for e in entries if e[1] != b"short-lived"]
    assert len(got_entries) == 100_000
    # Every column of every namespace is the source's, but for the counters, which count what was
    # copied: the source's counted the expired row too.
    for want, got in zip(namespaces, got_namespaces, strict=True):
        assert got[:8] == want[:8] and got[10:] == want[10:]
        copied = [e for e in got_entries if e[0] == got[0]]
        assert got[8:10] == (len(copied), sum(len(e[1]) + len(e[2]) for e in copied))
        if want[1] == "telnyx-kv":
            assert want[8:10] == (got[8] + 1, got[9] + len(b"short-lived") + len(b"gone"))
        else:
            assert got[8:10] == want[8:10]

    # The same ETags, as the CLI (and every API) shows them.
    for store in (str(original), database, str(back_path)):
        described = json.loads(ok(kv(store, "get", "-n", "telnyx-kv", "doc-3.json", "--json")).stdout)
        assert described["content_type"] == "application/json"
        assert described["etag"] == json.loads(
            ok(kv(str(original), "get", "-n", "telnyx-kv", "doc-3.json", "--json")).stdout
        )["etag"]
        assert kv(store, "get", "-n", "telnyx-kv", "short-lived").returncode == 1


def test_a_clashing_destination_is_refused_and_left_as_it_was(tmp_path, database):
    source = str(tmp_path / "source.sqlite3")
    ok(kv(source, "namespace", "create", "shared-name"))
    ok(kv(source, "namespace", "create", "only-in-source", "--profile", "telnyx"))
    ok(kv(source, "put", "-n", "only-in-source", "k", "v"))

    # A name taken by another namespace.
    destination = tmp_path / "destination.sqlite3"
    ok(kv(str(destination), "namespace", "create", "shared-name", "--profile", "telnyx"))
    ok(kv(str(destination), "put", "-n", "shared-name", "theirs", "kept"))
    before = rows(destination)
    refused = kv(source, "copy", "--to", str(destination))
    assert refused.returncode != 0
    assert b"refused" in refused.stderr and b"shared-name" in refused.stderr
    assert refused.stdout == b""
    assert rows(destination) == before

    # The same ids: the source was copied there already.
    copy(source, database)
    listed = ok(kv(database, "namespace", "list", "--json")).stdout
    refused = kv(source, "copy", "--to", database)
    assert refused.returncode != 0 and b"with the id of" in refused.stderr
    assert PASSWORD.encode() not in refused.stdout + refused.stderr
    assert ok(kv(database, "namespace", "list", "--json")).stdout == listed

    # The store itself.
    refused = kv(source, "copy", "--to", f"sqlite://{source}")
    assert refused.returncode != 0 and b"the same store" in refused.stderr


def test_help_explains_what_is_copied_refused_and_printed():
    out = ok(subprocess.run([EDGEKV_BIN, "kv", "copy", "--help"], capture_output=True)).stdout.decode()
    for words in ("What is copied", "What is refused", "What is printed", "checksum", "--to <URL>"):
        assert words in out, words
