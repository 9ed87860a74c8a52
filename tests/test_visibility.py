"""What each way in lists, reads, writes and manages, as the README's "Who sees which namespace" table
states it: one namespace of each profile created through each API (Cloudflare, Telnyx, CloudFront's
control plane) and one of each profile declared in the config and bound to a guest; then every way
in (the Cloudflare and Telnyx APIs, CloudFront's control and data planes, the data browser's API, a
guest, `edgekv kv`) lists them, reads and writes a key in each (a value over CloudFront's 1 KiB
tells that the namespace's rules apply, whoever writes), and gets, renames and deletes namespaces."""

import json
import os

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import API_TOKEN, AWS_ACCOUNT_ID, AWS_KEY_ID, AWS_SECRET, CF_ACCOUNT_ID, CREDENTIALS_ENV, Server, guest

PROFILES = ("cloudflare", "cloudfront", "telnyx")
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A server with six namespaces, each holding `k` = its own name: `bound-<profile>` (declared in
    the config, granted to the guest) and `api-<profile>` (created through that profile's API).
    One server for the module (conftest's `edgekv` fixture is per test): the tests only read it, or
    write keys other than `k`."""
    tmp = tmp_path_factory.mktemp("visibility")
    declared = "".join(
        f'[[namespaces]]\nbinding = "{p}"\nname = "bound-{p}"\nprofile = "{p}"\n\n' for p in PROFILES
    )
    config = tmp / "edgekv.toml"
    bindings = ", ".join(f'"{p}"' for p in PROFILES)
    config.write_text(declared + f'[[apps]]\nroute = "/"\ncomponent = "{guest("rust-kv-api")}"\nbindings = [{bindings}]\n')
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
        server.close()


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


def test_every_way_in_writes_where_it_reads_under_the_namespaces_rules(world):
    """A value of 2 KiB: over CloudFront's 1 KiB, within the others' limits, whoever writes it."""
    server, ids = world
    small, big = "small", "x" * 2048
    cf = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    tx = f"{server.url}/v2/storage/kvs"
    browser = f"{server.url}/_edgekv/api/namespaces"
    _, data = aws_clients(server)

    def by_cloudflare(name, key, value):
        return requests.put(f"{cf}/{ids[name].replace('-', '')}/values/{key}", data=value, headers=BEARER).status_code == 200

    def by_telnyx(name, key, value):
        return requests.put(f"{tx}/{ids[name]}/keys/{key}", data=value, headers=BEARER).status_code in (200, 201)

    def by_browser(name, key, value):
        body = {"value": value, "encoding": "text"}
        r = requests.put(f"{browser}/{ids[name]}/values/{key}", json=body, headers={**BEARER, "x-edgekv-browser": "1", "If-None-Match": "*"})
        return r.status_code in (200, 201)

    def by_kv(name, key, value):
        return server.kv("put", "-n", name, key, value).returncode == 0

    def by_guest(name, key, value):
        if name not in BOUND:
            return False
        r = requests.put(f"{server.url}/kv/{key}", data=value, headers={"x-binding": name.removeprefix("bound-")})
        return r.status_code == 201

    def by_cloudfront(name, key, value):
        arn = f"arn:aws:cloudfront::{AWS_ACCOUNT_ID}:key-value-store/{ids[name]}"
        try:
            etag = data.describe_key_value_store(KvsARN=arn)["ETag"]
            data.put_key(KvsARN=arn, Key=key, Value=value, IfMatch=etag)
        except (data.exceptions.ResourceNotFoundException, data.exceptions.ServiceQuotaExceededException):
            return False
        return data.get_key(KvsARN=arn, Key=key)["Value"] == value

    writers = {"cloudflare": by_cloudflare, "telnyx": by_telnyx, "browser": by_browser, "kv": by_kv}
    for name in ids:
        for how, write in writers.items():
            assert write(name, f"{how}-small", small), (how, name)
            assert write(name, f"{how}-big", big) == (name not in CLOUDFRONT_ONLY), (how, name)
        assert by_guest(name, "guest-small", small) == (name in BOUND), name
        assert by_cloudfront(name, "cloudfront-small", small) == (name in CLOUDFRONT_ONLY), name
        if name in BOUND:
            assert by_guest(name, "guest-big", big) == (name not in CLOUDFRONT_ONLY), name
        if name in CLOUDFRONT_ONLY:
            assert not by_cloudfront(name, "cloudfront-big", big)


def test_who_manages_which_namespace(edgekv):
    """Get, rename and delete: Cloudflare, Telnyx (no rename) and `edgekv kv` any namespace,
    CloudFront's control plane only `cloudfront` stores."""
    server = edgekv()
    control, _ = aws_clients(server)
    for how in ("cf", "tx", "kv", "aws"):
        for p in PROFILES:
            assert server.kv("namespace", "create", f"{how}-{p}", "--profile", p).returncode == 0
    ids = {row["name"]: row["id"] for row in kv_json(server, "namespace", "list", "--json")}
    cf = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    tx = f"{server.url}/v2/storage/kvs"
    for p in PROFILES:
        id = ids[f"cf-{p}"].replace("-", "")
        assert requests.get(f"{cf}/{id}", headers=BEARER).json()["result"]["title"] == f"cf-{p}"
        r = requests.put(f"{cf}/{id}", json={"title": f"cf-{p}-renamed"}, headers=BEARER)
        assert r.json()["result"]["title"] == f"cf-{p}-renamed"
        assert requests.delete(f"{cf}/{id}", headers=BEARER).status_code == 200

        id = ids[f"tx-{p}"]
        assert requests.get(f"{tx}/{id}", headers=BEARER).json()["data"]["name"] == f"tx-{p}"
        assert requests.delete(f"{tx}/{id}", headers=BEARER).status_code == 200

        assert server.kv("namespace", "rename", ids[f"kv-{p}"], f"kv-{p}-renamed").returncode == 0
        assert server.kv("namespace", "delete", f"kv-{p}-renamed").returncode == 0

        name = f"aws-{p}"
        if p != "cloudfront":
            with pytest.raises(control.exceptions.EntityNotFound):
                control.describe_key_value_store(Name=name)
            with pytest.raises(control.exceptions.EntityNotFound):
                control.update_key_value_store(Name=name, Comment="c", IfMatch="any")
            with pytest.raises(control.exceptions.EntityNotFound):
                control.delete_key_value_store(Name=name, IfMatch="any")
            continue
        etag = control.describe_key_value_store(Name=name)["ETag"]
        etag = control.update_key_value_store(Name=name, Comment="c", IfMatch=etag)["ETag"]
        control.delete_key_value_store(Name=name, IfMatch=etag)
    assert {row["name"] for row in kv_json(server, "namespace", "list", "--json")} == {"aws-cloudflare", "aws-telnyx"}
