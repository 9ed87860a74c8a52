"""Preconditions hold across access paths: CloudFront If-Match writes (store ETag) and guest
compare-and-swap (entry ETag) increment one counter while Cloudflare writes other keys of the same
namespace; every increment lands exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import API_TOKEN, CF_ACCOUNT_ID, guest
from test_cloudfront import clients

CONFIG = """
[[namespaces]]
binding = "default"
name = "shared"
profile = "cloudfront"

[[apps]]
route = "/"
component = "{app}"
bindings = ["default"]
"""


def cloudfront_increment(data, arn):
    """Reads the store ETag first, then the value; the write lands only if nothing changed between."""
    conflicts = 0
    while True:
        etag = data.describe_key_value_store(KvsARN=arn)["ETag"]
        try:
            count = int(data.get_key(KvsARN=arn, Key="n")["Value"])
        except data.exceptions.ResourceNotFoundException:
            count = 0
        try:
            data.put_key(KvsARN=arn, Key="n", Value=str(count + 1), IfMatch=etag)
            return conflicts
        except data.exceptions.ConflictException:
            conflicts += 1


def test_counter_across_cloudfront_guest_and_cloudflare_ends_exact(edgekv, guests_dir):
    server = edgekv(config=CONFIG.format(app=guest("rust-counter")))
    control, _ = clients(server)
    arn = control.describe_key_value_store(Name="shared")["KeyValueStore"]["ARN"]
    ns = arn.rsplit("/", 1)[1].replace("-", "")
    stop = threading.Event()

    def noise():
        s = requests.Session()
        url = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces/{ns}/values"
        for i in range(10_000):
            if stop.is_set():
                return
            assert s.put(f"{url}/noise-{i % 20}", data=b"x", headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200

    def cloudfront_worker(_):
        _, data = clients(server)
        return sum(cloudfront_increment(data, arn) for _ in range(25))

    def guest_worker(_):
        s = requests.Session()
        return [s.get(f"{server.url}/n").status_code for _ in range(25)]

    noisy = threading.Thread(target=noise)
    noisy.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            cf = pool.map(cloudfront_worker, range(4))
            guests = pool.map(guest_worker, range(4))
            conflicts = sum(cf)
            statuses = [s for batch in guests for s in batch]
    finally:
        stop.set()
        noisy.join()
    assert statuses == [200] * 100
    _, data = clients(server)
    assert data.get_key(KvsARN=arn, Key="n")["Value"] == "200"
    assert conflicts > 0, "the paths never raced; the test proved nothing"
