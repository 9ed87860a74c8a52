"""What the management APIs tell clients when a request fails: a body that never arrives whole is a
bad request, not "too large", and nothing is written from it; a size or expiry error names the field
it is about and the namespace's own limit; and clients read the service's words, never edgekv's
internal rule names."""

import json
import socket
import time

import boto3
import cloudflare
import pytest
import requests
from botocore.config import Config
from cloudflare import Cloudflare

from conftest import API_TOKEN, AWS_KEY_ID, AWS_SECRET, CF_ACCOUNT_ID

CONFIG = """
[[namespaces]]
binding = "default"
name = "plain"
profile = "cloudflare"

[[namespaces]]
binding = "slow"
name = "five-minute-minimum"
profile = "cloudflare"
limits = { min_ttl_secs = 300 }

[[namespaces]]
binding = "tiny"
name = "tiny-store"
profile = "cloudfront"
limits = { max_store_bytes = 100 }
"""

RULE_NAMES = ("store_full", "batch_too_many_items", "batch_too_large", "metadata_too_large",
              "value_too_large", "expiration_too_soon", "ttl_too_short")
BEARER = {"authorization": f"Bearer {API_TOKEN}"}
BROWSER = {**BEARER, "x-edgekv-browser": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # One server for the module: every test writes its own keys.
    import os
    from conftest import CREDENTIALS_ENV, Server

    tmp = tmp_path_factory.mktemp("messages")
    (tmp / "edgekv.toml").write_text(CONFIG)
    env = {**os.environ, **CREDENTIALS_ENV}
    env.pop("RUST_BACKTRACE", None)
    s = Server(tmp / "data", ["--config", str(tmp / "edgekv.toml")], env)
    yield s
    s.close()


@pytest.fixture(scope="module")
def cf(server):
    return Cloudflare(api_token=API_TOKEN, base_url=f"{server.url}/client/v4", max_retries=0)


def cf_namespace(server, title):
    r = requests.get(f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces", headers=BEARER)
    return next(ns["id"] for ns in r.json()["result"] if ns["title"] == title)


def cf_values(server, title, key):
    return f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{cf_namespace(server, title)}/values/{key}"


def cf_error(response):
    assert not response.json()["success"]
    return response.json()["errors"][0]


# --- bodies that never arrive whole ----------------------------------------------------------


def send_broken_body(server, method, path, headers, how):
    """Sends a request whose body breaks: `chunked` sends a malformed chunked encoding, `cut` declares
    a Content-Length and stops sending half way (then half-closes). The status, or None when the
    server closed the connection without answering."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{server.port}",
             *(f"{k}: {v}" for k, v in headers.items())]
    if how == "chunked":
        head = [*lines, "transfer-encoding: chunked"]
        body = b"5\r\nhello\r\nnot-a-chunk-size\r\nxyz\r\n0\r\n\r\n"
    else:
        head = [*lines, "content-length: 1000"]
        body = b"x" * 100
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    if how == "cut":
        sock.shutdown(socket.SHUT_WR)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else None


@pytest.mark.parametrize("how", ["chunked", "cut"])
def test_telnyx_put_with_a_broken_body_is_not_too_large_and_writes_nothing(server, how):
    created = requests.post(f"{server.url}/v2/storage/kvs", headers=BEARER, json={"name": f"broken-{how}"})
    ns = created.json()["data"]["id"]
    path = f"/v2/storage/kvs/{ns}/keys/k"
    assert requests.put(f"{server.url}{path}", headers=BEARER, data=b"original").status_code == 201
    status = send_broken_body(server, "PUT", path, {**BEARER, "content-type": "text/plain"}, how)
    assert status in (400, None), status
    assert requests.get(f"{server.url}{path}", headers=BEARER).content == b"original"


@pytest.mark.parametrize("how", ["chunked", "cut"])
def test_browser_put_with_a_broken_body_is_not_too_large_and_writes_nothing(server, how):
    ns = cf_namespace(server, "plain")
    path = f"/_edgekv/api/namespaces/{ns}/values/browser-{how}"
    status = send_broken_body(
        server, "PUT", path, {**BROWSER, "if-none-match": "*", "content-type": "application/json"}, how
    )
    assert status in (400, None), status
    assert requests.get(f"{server.url}{path}", headers=BEARER).status_code == 404


@pytest.mark.parametrize("how", ["chunked", "cut"])
def test_cloudflare_bulk_and_namespace_bodies_that_break_are_not_too_large(server, how):
    ns = cf_namespace(server, "plain")
    base = f"/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    assert send_broken_body(server, "PUT", f"{base}/{ns}/bulk", BEARER, how) in (400, None)
    assert send_broken_body(server, "POST", base, BEARER, how) in (400, None)


# --- sizes and expirations name their field and limit ----------------------------------------


def test_cloudflare_oversize_metadata_is_reported_as_metadata(server, cf):
    ns = cf_namespace(server, "plain")
    for pad in (2_000, 70_000):  # under and over what a multipart field used to be capped at
        with pytest.raises(cloudflare.APIStatusError) as e:
            cf.kv.namespaces.values.update("meta", account_id=CF_ACCOUNT_ID, namespace_id=ns,
                                           value=b"v", metadata={"pad": "x" * pad})
        assert e.value.status_code == 413
        message = e.value.body["errors"][0]["message"] if isinstance(e.value.body, dict) else str(e.value)
        assert message.startswith("Metadata length of ") and message.endswith("exceeds limit of 1024."), message
        assert "Value" not in message
    assert requests.get(cf_values(server, "plain", "meta"), headers=BEARER).status_code == 404


def test_cloudflare_expiration_errors_name_expiration_and_the_namespace_minimum(server):
    url = cf_values(server, "five-minute-minimum", "exp")
    now = int(time.time())
    soon = requests.put(url, params={"expiration": now + 100}, headers=BEARER, data=b"v")
    assert soon.status_code == 400
    assert cf_error(soon) == {
        "code": 10033,
        "message": f"Invalid expiration of {now + 100}. Expiration times must be at least 300 seconds in the future.",
    }
    past = requests.put(url, params={"expiration": now - 10}, headers=BEARER, data=b"v")
    assert cf_error(past)["code"] == 10033
    assert cf_error(past)["message"] == (f"Invalid expiration of {now - 10}. Please specify integer greater than "
                                         "the current number of seconds since the UNIX epoch.")
    huge = 9_223_372_036_854_776  # unix seconds past what milliseconds in an i64 can hold
    late = requests.put(url, params={"expiration": huge}, headers=BEARER, data=b"v")
    assert late.status_code == 400 and cf_error(late)["code"] == 10033
    assert cf_error(late)["message"].startswith(f"Invalid expiration of {huge}.")
    short = requests.put(url, params={"expiration_ttl": 120}, headers=BEARER, data=b"v")
    assert cf_error(short) == {"code": 10034,
                               "message": "Invalid expiration_ttl of 120. Expiration TTL must be at least 300."}
    assert requests.put(url, params={"expiration": now + 400}, headers=BEARER, data=b"v").status_code == 200


# --- the service's words, never edgekv's rule names ------------------------------------------


def test_cloudflare_bulk_over_10000_items_says_so_in_cloudflare_words(server):
    ns = cf_namespace(server, "plain")
    base = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}"
    items = [{"key": f"k{i}", "value": "v"} for i in range(10_001)]
    put = requests.put(f"{base}/bulk", headers=BEARER, data=json.dumps(items))
    assert put.status_code == 400
    assert cf_error(put) == {"code": 10012,
                             "message": "bulk put: 'received 10001 key/value pairs, but max allowed per request is: 10000'"}
    delete = requests.post(f"{base}/bulk/delete", headers=BEARER, json=[f"k{i}" for i in range(10_001)])
    assert cf_error(delete) == {"code": 10012,
                                "message": "bulk delete: 'received 10001 keys, but max allowed per request is: 10000'"}


def test_cloudfront_store_full_is_the_service_quota_message(server):
    session = boto3.session.Session(aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET,
                                    region_name="us-east-1")
    control = session.client("cloudfront", endpoint_url=server.url, config=Config(retries={"max_attempts": 1}))
    data = session.client("cloudfront-keyvaluestore", endpoint_url=server.url,
                          config=Config(proxies={"http": server.url}, retries={"max_attempts": 1}))
    arn = control.describe_key_value_store(Name="tiny-store")["KeyValueStore"]["ARN"]
    etag = data.describe_key_value_store(KvsARN=arn)["ETag"]
    etag = data.put_key(KvsARN=arn, Key="a", Value="x" * 60, IfMatch=etag)["ETag"]
    with pytest.raises(data.exceptions.ServiceQuotaExceededException) as e:
        data.put_key(KvsARN=arn, Key="b", Value="x" * 60, IfMatch=etag)
    message = e.value.response["Error"]["Message"]
    assert message == "Limit exceeded: Maximum size of the key value store (100 bytes)"
    assert not any(name in message for name in RULE_NAMES)
    puts = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(data.exceptions.ServiceQuotaExceededException) as e:
        data.update_keys(KvsARN=arn, IfMatch=etag, Puts=puts)
    message = e.value.response["Error"]["Message"]
    assert message.startswith("Limit exceeded: Maximum number of keys") and "50" in message
    assert not any(name in message for name in RULE_NAMES)
