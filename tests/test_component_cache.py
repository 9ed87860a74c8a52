"""The compiled-component cache deserialises only entries it wrote itself: an entry replaced by
another valid compiled component, or with one byte changed, is refused, and the server compiles and
serves the right guest. Two servers share one cache directory (and its key) through --cache-dir."""

import requests

from conftest import guest

HELLO = b"Hello from a plain wasi:http component\n"


def entries(cache):
    return {path.name: path.read_bytes() for path in cache.glob("*.cwasm")}


def serve_once(edgekv, name, cache):
    """Starts a server for guest `name` on `cache`, checks it answers, stops it; the server."""
    server = edgekv(app=guest(name), args=["--cache-dir", str(cache)])
    assert requests.get(f"{server.url}/", timeout=30).status_code == 200
    server.stop()
    return server


def test_an_entry_that_is_not_the_caches_own_is_refused(edgekv, guests_dir, tmp_path):
    cache = tmp_path / "cache"
    hello = serve_once(edgekv, "hello", cache)
    (hello_entry,) = entries(cache)
    serve_once(edgekv, "misbehave", cache)
    (misbehave_entry,) = set(entries(cache)) - {hello_entry}

    # Another valid compiled component under hello's name: deserialising it would run misbehave.
    (cache / hello_entry).write_bytes((cache / misbehave_entry).read_bytes())
    hello.start()
    assert requests.get(f"{hello.url}/", timeout=30).content == HELLO
    assert f"refusing cache entry {cache / hello_entry}" in hello.log()
    hello.stop()

    # The entry was rewritten: the next start takes it from the cache without complaint.
    rewritten = (cache / hello_entry).read_bytes()
    hello.start()
    assert requests.get(f"{hello.url}/", timeout=30).content == HELLO
    assert hello.log().count("refusing cache entry") == 1
    hello.stop()

    # One byte changed anywhere in the entry.
    for at in [len(rewritten) // 2, len(rewritten) - 1]:
        changed = bytearray(rewritten)
        changed[at] ^= 0x01
        (cache / hello_entry).write_bytes(bytes(changed))
        before = hello.log().count("refusing cache entry")
        hello.start()
        assert requests.get(f"{hello.url}/", timeout=30).content == HELLO
        assert hello.log().count("refusing cache entry") == before + 1, at
        hello.stop()


def test_the_cache_key_is_private_to_its_user(edgekv, guests_dir, tmp_path):
    cache = tmp_path / "cache"
    serve_once(edgekv, "hello", cache)
    key = cache / "cache.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_bytes()) == 32
