"""Which namespaces each way in lists and reads, as the README's "Who sees which namespace" states it:
one namespace of each profile created through each API (Cloudflare, Telnyx, CloudFront's control
plane), one of each profile declared in the config and bound to a guest, then every way in (the
Cloudflare and Telnyx APIs, CloudFront's control and data planes, the data browser's API, a guest,
`edgekv kv`) asked to list them all and read a key from each."""

import json

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import API_TOKEN, AWS_ACCOUNT_ID, AWS_KEY_ID, AWS_SECRET, CF_ACCOUNT_ID, guest

PROFILES = ("cloudflare", "cloudfront", "telnyx")
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A server with six namespaces, each holding `k` = its own name: `bound-<profile>` (declared in
    the config, granted to the guest) and `api-<profile>` (created through that profile's API)."""
    import os

    from conftest import CREDENTIALS_ENV, Server

    tmp = tmp_path_factory.mktemp("visibility")
    declared = "".join(
        f'[[namespaces]]\nbinding = "{p}"\nname = "bound-{p}"\nprofile = "{p}"\n\n' for p in PROFILES
    )
    config = tmp / "edgekv.toml"
    config.write_text(
        declared + f'[[apps]]\nroute = "/"\ncomponent = "{guest("rust-kv-api")}"\nbindings = {list(PROFILES)!r}\n'.replace("'", '"')
    )
    env = {**os.environ, **CREDENTIALS_ENV}
    env.pop("RUST_BACKTRACE", None)
    server = Server(tmp / "data", ["--config", str(config)], env)
    try:
        cf_api = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
        r = requests.post(cf_api, json={"title": "api-cloudflare"}, headers=BEARER)
        assert r.status_code == 200, r.text
        r = requests.post(f"{server.url}/v2/storage/kvs", json={"name": "api-telnyx"}, headers=BEARER)
        assert r.status_code == 201, r.text
        control, _ = aws_clients(server)
        control.create_key_value_store(Name="api-cloudfront")
        ids = {}
        for row in kv_json(server, "namespace", "list", "--json"):
            ids[row["name"]] = (row["id"], row["profile"])
            assert server.kv("put", "-n", row["name"], "k", row["name"]).returncode == 0
        assert {name: profile for name, (_, profile) in ids.items()} == {
            f"{how}-{p}": p for how in ("api", "bound") for p in PROFILES
        }
        yield server, {name: id for name, (id, _) in ids.items()}
    finally:
        server.stop()


def kv_json(server, *args):
    done = server.kv(*args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]


def aws_clients(server):
    session = boto3.session.Session(aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET, region_name="us-east-1")
    config = Config(retries={"max_attempts": 1})
    control = session.client("cloudfront", endpoint_url=server.url, config=config)
    data = session.client(
        "cloudfront-keyvaluestore",
        endpoint_url=server.url,
        config=Config(proxies={"http": server.url}, retries={"max_attempts": 1}),
    )
    return control, data


ALL = {f"{how}-{p}" for how in ("api", "bound") for p in PROFILES}
CLOUDFRONT_ONLY = {"api-cloudfront", "bound-cloudfront"}
BOUND = {f"bound-{p}" for p in PROFILES}


def test_cloudflare_lists_and_reads_every_namespace(world):
    server, ids = world
    base = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    listed = requests.get(base, headers=BEARER).json()["result"]
    assert {ns["title"] for ns in listed} == ALL
    for name, id in ids.items():
        r = requests.get(f"{base}/{id.replace('-', '')}/values/k", headers=BEARER)
        assert (r.status_code, r.text) == (200, name)


def test_telnyx_lists_and_reads_every_namespace(world):
    server, ids = world
    base = f"{server.url}/v2/storage/kvs"
    listed = requests.get(base, params={"page[size]": 50}, headers=BEARER).json()["data"]
    assert {ns["name"] for ns in listed} == ALL
    for name, id in ids.items():
        r = requests.get(f"{base}/{id}/keys/k", headers=BEARER)
        assert (r.status_code, r.text) == (200, name)


def test_cloudfront_lists_and_reads_only_cloudfront_stores(world):
    server, ids = world
    control, data = aws_clients(server)
    listed = control.list_key_value_stores()["KeyValueStoreList"]["Items"]
    assert {kvs["Name"] for kvs in listed} == CLOUDFRONT_ONLY
    for name, id in ids.items():
        arn = f"arn:aws:cloudfront::{AWS_ACCOUNT_ID}:key-value-store/{id}"
        if name in CLOUDFRONT_ONLY:
            assert control.describe_key_value_store(Name=name)["KeyValueStore"]["ARN"] == arn
            assert data.describe_key_value_store(KvsARN=arn)["KvsARN"] == arn
            assert data.get_key(KvsARN=arn, Key="k")["Value"] == name
            continue
        with pytest.raises(control.exceptions.EntityNotFound):
            control.describe_key_value_store(Name=name)
        with pytest.raises(data.exceptions.ResourceNotFoundException):
            data.describe_key_value_store(KvsARN=arn)
        with pytest.raises(data.exceptions.ResourceNotFoundException):
            data.get_key(KvsARN=arn, Key="k")


def test_the_data_browser_lists_and_reads_every_namespace(world):
    server, ids = world
    api = f"{server.url}/_edgekv/api/namespaces"
    listed = requests.get(api, headers=BEARER).json()["namespaces"]
    assert {ns["name"] for ns in listed} == ALL
    for name, id in ids.items():
        r = requests.get(f"{api}/{id}/values/k", headers=BEARER)
        assert r.status_code == 200 and r.json()["text"] == name


def test_a_guest_reads_only_the_namespaces_it_is_bound_to(world):
    server, _ = world
    for p in PROFILES:
        r = requests.get(f"{server.url}/kv/k", headers={"x-binding": p})
        assert (r.status_code, r.text) == (200, f"bound-{p}")
    for name in ALL:  # a namespace's name (or id) is not a binding: only the config's grants count
        r = requests.get(f"{server.url}/kv/k", headers={"x-binding": name})
        assert r.status_code == 403 and r.json()["error"] == "access-denied"


def test_edgekv_kv_lists_and_reads_every_namespace(world):
    server, ids = world
    assert {row["name"] for row in kv_json(server, "namespace", "list", "--json")} == ALL
    for name, id in ids.items():
        for ref in (name, id):
            done = server.kv("get", "-n", ref, "k")
            assert done.returncode == 0 and done.stdout.decode().strip() == name, done.stderr


def test_each_namespace_keeps_its_profiles_rules_through_every_api(world):
    """A value of 2 KiB: over CloudFront's 1 KiB, within the others' limits, whoever writes it."""
    server, ids = world
    value = "x" * 2048
    cf = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    tx = f"{server.url}/v2/storage/kvs"
    for name, id in ids.items():
        fits = not name.endswith("-cloudfront")
        r = requests.put(f"{cf}/{id.replace('-', '')}/values/big", data=value, headers=BEARER)
        assert (r.status_code == 200) == fits, (name, r.status_code, r.text)
        r = requests.put(f"{tx}/{id}/keys/big2", data=value, headers=BEARER)
        assert (r.status_code in (200, 201)) == fits, (name, r.status_code, r.text)
