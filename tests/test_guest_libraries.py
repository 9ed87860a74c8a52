"""The guest libraries (guest-libs/) against a real server, each through a guest built from source.

JavaScript: tests/guests/js-workers-kv runs a table of Workers KV binding behaviours written as a
Worker's code is, against guest-libs/js/edgekv.js, and answers what it observed for each case; the
tests below assert Workers' documented results. The Rust, Python and C libraries are checked through
the guests that use them: rust-kv-api and c-kv-api (tests/test_guest_languages.py runs its whole
suite on them) and python-kv-lib, which this module adds to that suite's guests here."""

import time

import pytest
import requests

import conftest
from conftest import guest


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """The js-workers-kv guest's observations, one run of its table on a fresh server."""
    tmp = tmp_path_factory.mktemp("js-workers-kv")
    env = {**conftest.os.environ, **conftest.CREDENTIALS_ENV}
    env.pop("RUST_BACKTRACE", None)
    server = conftest.Server(tmp / "data", [str(guest("js-workers-kv"))], env)
    try:
        started = time.time()
        resp = requests.get(f"{server.url}/?prefix=t-", timeout=120)
        finished = time.time()
    finally:
        server.stop()
    assert resp.status_code == 200, resp.text
    results = resp.json()
    unexpected = {name: r["unexpected"] for name, r in results.items() if "unexpected" in r}
    assert not unexpected, unexpected
    return {"results": results, "started": started, "finished": finished}


def case(table, name):
    return table["results"][name]


def test_every_method_returns_a_promise(table):
    assert case(table, "returns_promises") == {"all_promises": True}


def test_get_types(table):
    assert case(table, "get_text") == {"default": "héllo", "option": "héllo", "shorthand": "héllo"}
    doc = {"a": 1, "b": [True, None, "x"]}
    assert case(table, "get_json") == {"option": doc, "shorthand": doc}
    assert case(table, "get_array_buffer") == {"is_array_buffer": True, "bytes": [0, 1, 2, 254, 255]}
    assert case(table, "get_stream") == {"is_stream": True, "text": "streamed value"}


def test_get_json_of_a_non_json_value_rejects_with_a_syntax_error(table):
    r = case(table, "get_json_invalid")
    assert r["rejected"] and r["name"] == "SyntaxError"


def test_get_of_an_unknown_type_rejects_with_workers_type_error(table):
    r = case(table, "get_unknown_type")
    assert r["rejected"] and r["name"] == "TypeError"
    assert r["message"] == 'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'


def test_missing_key_is_null(table):
    assert case(table, "get_missing") == {
        "text": None,
        "json": None,
        "array_buffer": None,
        "with_metadata": {"value": None, "metadata": None, "cacheStatus": None},
    }


def test_get_with_metadata_with_and_without_metadata(table):
    r = case(table, "get_with_metadata")
    assert r["with"] == {"value": "v1", "metadata": {"user": "ada", "n": 1, "tags": ["a"]}, "cacheStatus": None}
    assert r["without"] == {"value": "v2", "metadata": None, "cacheStatus": None}
    assert r["json"] == "SyntaxError", "type json applies to the value"
    assert r["array_buffer"] == list(b"v2")


def test_put_takes_strings_buffers_views_and_streams_and_refuses_others(table):
    r = case(table, "put_value_types")
    assert r["array_buffer"] == [1, 2, 3]
    assert r["uint16"] == [1, 2, 3, 4], "a typed array is written as its bytes (little-endian)"
    assert r["data_view"] == [8, 7, 6], "only the view's window is written"
    assert r["stream"] == "from a stream"
    assert r["empty"] == ""
    assert r["number"]["rejected"] and r["number"]["name"] == "TypeError"
    assert "accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams" in r["number"]["message"]


def test_put_resolves_to_undefined_and_replaces_value_and_metadata(table):
    assert case(table, "put_overwrites") == {
        "put_resolves": "undefined",
        "after": {"value": "second", "metadata": None, "cacheStatus": None},
    }


def test_put_with_metadata_and_expiration_ttl(table):
    r = case(table, "put_expiration_ttl")
    assert r["value"] == "v"
    [key] = r["keys"]
    assert key["name"] == "t-put_expiration_ttl/ttl"
    assert key["metadata"] == {"m": True}
    # Workers reports expiry in whole unix seconds.
    assert isinstance(key["expiration"], int)
    assert r["before_ms"] // 1000 + 120 <= key["expiration"] <= int(table["finished"]) + 120


def test_put_with_absolute_expiration(table):
    r = case(table, "put_expiration_absolute")
    assert r["keys"] == [{"name": "t-put_expiration_absolute/at", "expiration": r["at"]}]


def test_expiration_ttl_under_60_is_refused_as_workers_refuses_it(table):
    r = case(table, "put_expiration_ttl_under_60")
    assert r["rejected"] and r["name"] == "KVError" and r["code"] == "invalid-expiration"
    assert r["message"] == "KV PUT failed: 400 Invalid expiration_ttl of 59. Expiration TTL must be at least 60."
    assert r["after"] is None, "a refused put writes nothing"
    r = case(table, "put_expiration_ttl_not_positive")
    assert r["message"] == "KV PUT failed: 400 Invalid expiration_ttl of 0. Please specify integer greater than 0."


def test_expiration_under_60_seconds_ahead_is_refused(table):
    r = case(table, "put_expiration_too_soon")
    assert r["rejected"] and r["code"] == "invalid-expiration"
    assert r["message"] == (
        f"KV PUT failed: 400 Invalid expiration of {r['at']}. Expiration times must be at least 60 seconds in the future."
    )


def test_metadata_over_1024_bytes_is_refused(table):
    r = case(table, "put_metadata_too_large")
    assert r["rejected"] and r["code"] == "metadata-too-large"
    assert r["message"].startswith("KV PUT failed: 413 Metadata length of ")
    assert r["message"].endswith(" exceeds limit of 1024.")


def test_key_names_workers_refuses(table):
    r = case(table, "key_names")
    assert r["empty"]["name"] == "TypeError" and r["empty"]["message"] == "Key name cannot be empty."
    assert r["dot"]["name"] == "TypeError" and r["dot"]["message"] == '"." is not allowed as a key name.'
    assert r["dot_dot"]["name"] == "TypeError" and r["dot_dot"]["message"] == '".." is not allowed as a key name.'
    length = len("t-key_names/") + 513
    assert r["too_long"]["message"] == (
        f"KV PUT failed: 414 UTF-8 encoded length of {length} exceeds key length limit of 512."
    )


def test_list_result_shape_prefix_and_cursor(table):
    r = case(table, "list_shape")
    a, b, c = ({"name": "t-list_shape/a"}, {"name": "t-list_shape/b", "metadata": {"n": 2}}, {"name": "t-list_shape/c"})
    first = r["first"]
    assert set(first) == {"keys", "list_complete", "cursor", "cacheStatus"}
    assert first["keys"] == [a, b] and first["list_complete"] is False
    assert isinstance(first["cursor"], str) and first["cursor"]
    # The last page has no cursor, as Workers' `list_complete: true` result.
    assert r["second"] == {"keys": [c], "list_complete": True, "cacheStatus": None}
    assert r["all"] == {"keys": [a, b, c], "list_complete": True, "cacheStatus": None}, "the prefix excludes other keys"


def test_list_limit_outside_1_to_1000_is_refused(table):
    r = case(table, "list_limit_zero")
    assert r["rejected"]
    assert r["message"] == "KV LIST failed: 400 Invalid key_count_limit of 0. Please specify an integer greater than 0."
    r = case(table, "list_limit_over_1000")
    assert r["rejected"]
    assert r["message"] == "KV LIST failed: 400 Invalid key_count_limit of 1001. Please specify an integer less than 1000."


def test_delete(table):
    assert case(table, "delete") == {
        "resolves": "undefined",
        "after": None,
        "missing": {"rejected": False, "value": "undefined"},
    }


def test_entry_level_methods_compare_and_swap(table):
    r = case(table, "entry_level")
    assert r["created"] is True
    assert r["conflict"]["rejected"] and r["conflict"]["code"] == "conflict"
    assert r["content_type"] == "text/plain"
    assert r["etag_matches"] is True
    assert r["swapped_created"] is False
    assert r["value"] == "v2"
