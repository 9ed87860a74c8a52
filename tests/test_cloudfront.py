"""The CloudFront KeyValueStore APIs driven by boto3 (with awscrt, so the data plane is signed with
SigV4A) against a real edgekv server: the `cloudfront` control plane creates stores, the
`cloudfront-keyvaluestore` data plane reads and writes them. boto3 prefixes the account id to the
endpoint host, so the data-plane client reaches edgekv as its HTTP proxy (absolute-form targets)."""

import datetime
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore
import botocore.utils
import pytest
import requests
from botocore.config import Config

from conftest import AWS_ACCOUNT_ID, AWS_KEY_ID, AWS_SECRET, CREDENTIALS_ENV, guest


def clients(server, secret=AWS_SECRET, key_id=AWS_KEY_ID, **config):
    session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1")
    control = session.client("cloudfront", endpoint_url=server.url, config=Config(retries={"max_attempts": 1}))
    data = session.client(
        "cloudfront-keyvaluestore",
        endpoint_url=server.url,
        config=Config(proxies={"http": server.url}, retries={"max_attempts": 1}, **config),
    )
    return control, data


@pytest.fixture
def server(edgekv):
    return edgekv()


@pytest.fixture
def cf(server):
    return clients(server)


@pytest.fixture
def store(cf):
    control, _ = cf
    created = control.create_key_value_store(Name="test-store", Comment="for tests")
    return created["KeyValueStore"]["ARN"]


def etag(data, arn):
    return data.describe_key_value_store(KvsARN=arn)["ETag"]


def test_control_plane_lifecycle(cf):
    control, data = cf
    created = control.create_key_value_store(Name="My_Store-1", Comment="hello")
    kvs = created["KeyValueStore"]
    assert kvs["Name"] == "My_Store-1" and kvs["Comment"] == "hello" and kvs["Status"] == "READY"
    assert kvs["ARN"] == f"arn:aws:cloudfront::{AWS_ACCOUNT_ID}:key-value-store/{kvs['Id']}"
    assert created["ETag"] and created["ResponseMetadata"]["HTTPStatusCode"] == 201
    described = control.describe_key_value_store(Name="My_Store-1")
    assert described["KeyValueStore"]["Id"] == kvs["Id"]
    with pytest.raises(control.exceptions.EntityAlreadyExists):
        control.create_key_value_store(Name="My_Store-1")
    for i in range(3):
        control.create_key_value_store(Name=f"more-{i}")
    listed = control.list_key_value_stores(MaxItems="2")["KeyValueStoreList"]
    assert listed["Quantity"] == 2 and listed["NextMarker"]
    rest = control.list_key_value_stores(Marker=listed["NextMarker"])["KeyValueStoreList"]
    names = [k["Name"] for k in listed["Items"] + rest["Items"]]
    assert names == ["My_Store-1", "more-0", "more-1", "more-2"]
    with pytest.raises(control.exceptions.PreconditionFailed):
        control.update_key_value_store(Name="My_Store-1", Comment="new", IfMatch="stale")
    updated = control.update_key_value_store(Name="My_Store-1", Comment="new", IfMatch=described["ETag"])
    assert updated["KeyValueStore"]["Comment"] == "new"
    with pytest.raises(control.exceptions.PreconditionFailed):
        control.delete_key_value_store(Name="My_Store-1", IfMatch=described["ETag"])
    control.delete_key_value_store(Name="My_Store-1", IfMatch=updated["ETag"])
    with pytest.raises(control.exceptions.EntityNotFound):
        control.describe_key_value_store(Name="My_Store-1")
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.describe_key_value_store(KvsARN=kvs["ARN"])


def test_data_plane_operations(cf, store):
    _, data = cf
    described = data.describe_key_value_store(KvsARN=store)
    assert described["KvsARN"] == store and described["ItemCount"] == 0 and described["Status"] == "READY"
    put = data.put_key(KvsARN=store, Key="a/b c%", Value='välue "quoted" \n newline', IfMatch=described["ETag"])
    assert put["ETag"] != described["ETag"]
    value = 'välue "quoted" \n newline'
    size = len("a/b c%".encode()) + len(value.encode())
    assert (put["ItemCount"], put["TotalSizeInBytes"]) == (1, size)
    got = data.get_key(KvsARN=store, Key="a/b c%")
    assert (got["Key"], got["Value"], got["ItemCount"], got["TotalSizeInBytes"]) == ("a/b c%", value, 1, size)
    updated = data.update_keys(
        KvsARN=store,
        IfMatch=put["ETag"],
        Puts=[{"Key": f"k{i}", "Value": f"v{i}"} for i in range(5)],
        Deletes=[{"Key": "a/b c%"}],
    )
    assert updated["ItemCount"] == 5
    deleted = data.delete_key(KvsARN=store, Key="k0", IfMatch=updated["ETag"])
    assert deleted["ItemCount"] == 4
    pages = data.get_paginator("list_keys").paginate(KvsARN=store, PaginationConfig={"PageSize": 2})
    items = [item for page in pages for item in page["Items"]]
    assert items == [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(1, 5)]
    assert "NextToken" not in data.list_keys(KvsARN=store, MaxResults=50)


def test_stale_if_match_conflicts_and_changes_nothing(cf, store):
    _, data = cf
    first = etag(data, store)
    data.put_key(KvsARN=store, Key="k", Value="1", IfMatch=first)
    for call in (
        lambda: data.put_key(KvsARN=store, Key="k", Value="2", IfMatch=first),
        lambda: data.delete_key(KvsARN=store, Key="k", IfMatch=first),
        lambda: data.update_keys(KvsARN=store, IfMatch=first, Puts=[{"Key": "x", "Value": "y"}]),
    ):
        with pytest.raises(data.exceptions.ConflictException):
            call()
    assert data.get_key(KvsARN=store, Key="k")["Value"] == "1"
    assert data.describe_key_value_store(KvsARN=store)["ItemCount"] == 1


def test_errors_map_to_boto3_exceptions(cf, store):
    _, data = cf
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.get_key(KvsARN=store, Key="missing")
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.delete_key(KvsARN=store, Key="missing", IfMatch=etag(data, store))
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=[{"Key": "p", "Value": "v"}], Deletes=[{"Key": "missing"}])
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.get_key(KvsARN=store, Key="p")  # UpdateKeys applied nothing
    with pytest.raises(data.exceptions.ValidationException):
        data.list_keys(KvsARN=store, MaxResults=51)
    with pytest.raises(data.exceptions.ValidationException):
        data.get_key(KvsARN=store, Key="k" * 1025)
    with pytest.raises(data.exceptions.ServiceQuotaExceededException):
        data.put_key(KvsARN=store, Key="k" * 513, Value="v", IfMatch=etag(data, store))
    with pytest.raises(data.exceptions.ServiceQuotaExceededException):
        data.put_key(KvsARN=store, Key="big", Value="x" * 1025, IfMatch=etag(data, store))
    data.put_key(KvsARN=store, Key="max", Value="x" * 1024, IfMatch=etag(data, store))
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(data.exceptions.ServiceQuotaExceededException):
        data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=too_many)
    missing = store.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.describe_key_value_store(KvsARN=missing)


def test_store_size_quota_is_five_mib(cf, store):
    _, data = cf
    # 102 batches of 50 entries of 5 + 1019 bytes = 5,222,400 bytes; 5 MiB = 5,242,880.
    for batch in range(102):
        puts = [{"Key": f"{batch * 50 + i:05}", "Value": "x" * 1019} for i in range(50)]
        data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=puts)
    assert data.describe_key_value_store(KvsARN=store)["TotalSizeInBytes"] == 5_222_400
    with pytest.raises(data.exceptions.ServiceQuotaExceededException):
        puts = [{"Key": f"z{i:04}", "Value": "x" * 1019} for i in range(21)]
        data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=puts)
    data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=[{"Key": f"z{i:04}", "Value": "x" * 1019} for i in range(20)])
    assert data.describe_key_value_store(KvsARN=store)["TotalSizeInBytes"] == 5_242_880


def test_plain_sigv4_is_accepted_too(server, store):
    _, data = clients(server, signature_version="v4")
    assert data.describe_key_value_store(KvsARN=store)["KvsARN"] == store


def test_wrong_or_missing_credentials_are_access_denied(server, store):
    _, wrong_secret = clients(server, secret="not-the-secret")
    with pytest.raises(wrong_secret.exceptions.AccessDeniedException):
        wrong_secret.describe_key_value_store(KvsARN=store)
    _, wrong_key = clients(server, key_id="AKIAUNKNOWN000000000")
    with pytest.raises(wrong_key.exceptions.AccessDeniedException):
        wrong_key.describe_key_value_store(KvsARN=store)
    control, _ = clients(server, secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        control.list_key_value_stores()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    r = requests.get(f"{server.url}/key-value-stores/{store}")
    assert r.status_code == 403 and r.headers["x-amzn-errortype"] == "AccessDeniedException"


def test_a_key_put_through_cloudfront_is_read_by_a_guest(edgekv, guests_dir):
    config = f"""
[[namespaces]]
binding = "default"
name = "edge-kvs"
profile = "cloudfront"

[[apps]]
route = "/"
component = "{guest('rust-kv-api')}"
bindings = ["default"]
"""
    server = edgekv(config=config)
    control, data = clients(server)
    arn = control.describe_key_value_store(Name="edge-kvs")["KeyValueStore"]["ARN"]
    data.put_key(KvsARN=arn, Key="greeting", Value="from boto3", IfMatch=etag(data, arn))
    r = requests.get(f"{server.url}/kv/greeting")
    assert r.status_code == 200 and r.text == "from boto3"
    # A guest write changes the store ETag, so a CloudFront writer holding the old one conflicts.
    before = etag(data, arn)
    assert requests.put(f"{server.url}/kv/other", data=b"guest").status_code == 201
    with pytest.raises(data.exceptions.ConflictException):
        data.put_key(KvsARN=arn, Key="greeting", Value="stale", IfMatch=before)


AWKWARD_KEYS = ["a/b/c", "100%", "50%25", "with space", "unicodé-ключ-🔑", "plus+sign", "sub-delims!$&'()*,;=", "x/../y", "tilde~dot.dash-under_"]


def test_awkward_keys_and_paging_through_120_keys(cf, store):
    _, data = cf
    for key in AWKWARD_KEYS:
        data.put_key(KvsARN=store, Key=key, Value=f"value of {key}", IfMatch=etag(data, store))
        assert data.get_key(KvsARN=store, Key=key)["Value"] == f"value of {key}"
    for batch in range(3):
        puts = [{"Key": f"page/{batch * 40 + i:03}", "Value": "v"} for i in range(40)]
        data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=puts)
    pages = list(data.get_paginator("list_keys").paginate(KvsARN=store, PaginationConfig={"PageSize": 7}))
    keys = [item["Key"] for page in pages for item in page["Items"]]
    expected = sorted([f"page/{i:03}" for i in range(120)] + AWKWARD_KEYS, key=lambda k: k.encode())
    assert keys == expected and len(pages) == -(-len(expected) // 7)
    data.delete_key(KvsARN=store, Key="unicodé-ключ-🔑", IfMatch=etag(data, store))
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.get_key(KvsARN=store, Key="unicodé-ключ-🔑")


def test_update_keys_is_atomic(cf, store):
    _, data = cf
    data.put_key(KvsARN=store, Key="keep", Value="1", IfMatch=etag(data, store))
    before = data.describe_key_value_store(KvsARN=store)
    with pytest.raises(data.exceptions.ServiceQuotaExceededException):
        data.update_keys(
            KvsARN=store,
            IfMatch=before["ETag"],
            Puts=[{"Key": "new", "Value": "v"}, {"Key": "too-big", "Value": "x" * 1025}],
            Deletes=[{"Key": "keep"}],
        )
    after = data.describe_key_value_store(KvsARN=store)
    assert after["ETag"] == before["ETag"] and after["ItemCount"] == 1
    assert data.get_key(KvsARN=store, Key="keep")["Value"] == "1"


def tamper_body(request, **_):
    if request.body:
        request.body = request.body.replace(b'"v1"', b'"v2"')


@pytest.mark.parametrize("signature_version", [None, "v4"], ids=["sigv4a", "sigv4"])
def test_tampered_body_is_access_denied(server, store, signature_version):
    extra = {"signature_version": signature_version} if signature_version else {}
    _, data = clients(server, **extra)
    data.meta.events.register("before-send.cloudfront-keyvaluestore.PutKey", tamper_body)
    with pytest.raises(data.exceptions.AccessDeniedException):
        data.put_key(KvsARN=store, Key="k", Value="v1", IfMatch=etag(data, store))
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.get_key(KvsARN=store, Key="k")


def test_resolver_route_without_a_proxy(server, store, monkeypatch):
    """boto3 connects to <account>.127.0.0.1:PORT; a resolver that maps that name to loopback (as
    systemd-resolved does for *.localhost) reaches edgekv with no proxy at all."""
    import socket

    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".127.0.0.1"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    session = boto3.session.Session(aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET, region_name="us-east-1")
    data = session.client("cloudfront-keyvaluestore", endpoint_url=server.url, config=Config(retries={"max_attempts": 1}))
    put = data.put_key(KvsARN=store, Key="via/resolver", Value="ok", IfMatch=data.describe_key_value_store(KvsARN=store)["ETag"])
    assert put["ItemCount"] == 1
    assert data.get_key(KvsARN=store, Key="via/resolver")["Value"] == "ok"
    # Keys with dots inside travel as one segment (`a%2F..%2Fb`) and work as any key.
    for key in ("a/./b", "a/../b", "..a", "a.."):
        data.put_key(KvsARN=store, Key=key, Value=f"dots {key}", IfMatch=etag(data, store))
        assert data.get_key(KvsARN=store, Key=key)["Value"] == f"dots {key}"
    # Keys `.` and `..` travel as dot segments, which the signature does not cover (boto3 signs the
    # path without them): refused as input, whoever signed them. UpdateKeys and ListKeys carry them.
    for key in (".", ".."):
        for call in (
            lambda: data.put_key(KvsARN=store, Key=key, Value="v", IfMatch=etag(data, store)),
            lambda: data.get_key(KvsARN=store, Key=key),
            lambda: data.delete_key(KvsARN=store, Key=key, IfMatch=etag(data, store)),
        ):
            with pytest.raises(data.exceptions.ValidationException) as e:
                call()
            assert "UpdateKeys" in e.value.response["Error"]["Message"]
    data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=[{"Key": k, "Value": f"dots {k}"} for k in (".", "..")])
    items = data.list_keys(KvsARN=store, MaxResults=50)["Items"]
    assert [(i["Key"], i["Value"]) for i in items[:2]] == [(".", "dots ."), ("..", "dots ..")]
    assert [i["Key"] for i in items[2:]] == ["..a", "a..", "a/../b", "a/./b", "via/resolver"]
    data.update_keys(KvsARN=store, IfMatch=etag(data, store), Deletes=[{"Key": "."}, {"Key": ".."}])
    assert data.describe_key_value_store(KvsARN=store)["ItemCount"] == 5


def signed_request(server, method, path, body=b"", headers=None, sigv4a=True, secret=AWS_SECRET):
    """Sends a request signed exactly as boto3 signs it (awscrt SigV4A, or SigV4), but with a body
    or headers boto3 itself would refuse to send."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.crt.auth import CrtSigV4AsymAuth

    creds = Credentials(AWS_KEY_ID, secret)
    request = AWSRequest(method=method, url=f"{server.url}{path}", data=body, headers=headers or {})
    if sigv4a:
        CrtSigV4AsymAuth(creds, "cloudfront-keyvaluestore", "*").add_auth(request)
    else:
        SigV4Auth(creds, "cloudfront-keyvaluestore", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(method, prepared.url, data=prepared.body, headers=dict(prepared.headers))


def quoted(arn):
    from urllib.parse import quote

    return quote(arn, safe="")


@pytest.mark.parametrize("sigv4a", [True, False], ids=["sigv4a", "sigv4"])
def test_shape_errors_boto3_cannot_send_are_validation(server, store, sigv4a):
    path = f"/key-value-stores/{quoted(store)}/keys"
    current = signed_request(server, "GET", f"/key-value-stores/{quoted(store)}", sigv4a=sigv4a).headers["etag"]
    cases = [
        ("PUT", f"{path}/k", b'{"Value": ', {"If-Match": current}),  # bad JSON
        ("PUT", f"{path}/k", b'{"Valu": "v"}', {"If-Match": current}),  # no Value
        ("POST", path, b'{"Puts": [{"Key": "k"}]}', {"If-Match": current}),  # put without Value
        ("PUT", f"{path}/k", b'{"Value": "v"}', {}),  # no If-Match
        ("DELETE", f"{path}/k", b"", {}),
        ("POST", path, b'{"Puts": []}', {}),
        ("GET", f"{path}?MaxResults=0", b"", {}),
        ("GET", f"{path}?MaxResults=ten", b"", {}),
        ("GET", f"{path}?NextToken=not-a-token", b"", {}),
    ]
    for method, target, body, headers in cases:
        r = signed_request(server, method, target, body, {"Content-Type": "application/json", **headers}, sigv4a=sigv4a)
        assert r.status_code == 400, (method, target, body, r.text)
        assert r.headers["x-amzn-errortype"] == "ValidationException"
        assert r.json()["__type"] == "ValidationException" and r.json()["message"]
    assert signed_request(server, "GET", f"{path}?MaxResults=50", sigv4a=sigv4a).status_code == 200


def test_update_keys_over_3_mib_is_a_quota_error(cf, store):
    _, data = cf
    # 50 keys (the count limit) whose JSON body is over 3 MiB: the payload rule, not the count rule.
    puts = [{"Key": f"k{i}", "Value": "x" * 64_000} for i in range(50)]
    with pytest.raises(data.exceptions.ServiceQuotaExceededException) as e:
        data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=puts)
    assert e.value.response["Error"]["Message"] == (
        "Limit exceeded: Maximum payload size of a single UpdateKeys request (3145728 bytes)"
    )
    assert data.describe_key_value_store(KvsARN=store)["ItemCount"] == 0


@pytest.mark.parametrize("signature_version", [None, "v4"], ids=["sigv4a", "sigv4"])
def test_wrong_secret_skewed_date_and_tampered_header_are_access_denied(server, store, signature_version, monkeypatch):
    extra = {"signature_version": signature_version} if signature_version else {}
    _, wrong = clients(server, secret="not-the-secret", **extra)
    with pytest.raises(wrong.exceptions.AccessDeniedException):
        wrong.describe_key_value_store(KvsARN=store)

    _, data = clients(server, **extra)
    current = etag(data, store)

    def swap_if_match(request, **_):
        request.headers["If-Match"] = "tampered"

    data.meta.events.register("before-send.cloudfront-keyvaluestore.PutKey", swap_if_match)
    with pytest.raises(data.exceptions.AccessDeniedException):  # not a ConflictException: never reached
        data.put_key(KvsARN=store, Key="k", Value="v", IfMatch=current)
    data.meta.events.unregister("before-send.cloudfront-keyvaluestore.PutKey", swap_if_match)

    import datetime

    import botocore.auth
    import botocore.crt.auth

    for skew in (datetime.timedelta(minutes=16), -datetime.timedelta(minutes=16)):
        for module in (botocore.auth, botocore.crt.auth):
            real = botocore.utils.get_current_datetime
            monkeypatch.setattr(module, "get_current_datetime", lambda real=real, skew=skew, **kw: real(**kw) + skew)
        with pytest.raises(data.exceptions.AccessDeniedException) as e:
            data.describe_key_value_store(KvsARN=store)
        assert "15 minutes" in e.value.response["Error"]["Message"]
    monkeypatch.undo()
    assert data.put_key(KvsARN=store, Key="k", Value="v", IfMatch=current)["ItemCount"] == 1


def test_stores_of_other_profiles_are_not_key_value_stores(edgekv):
    server = edgekv(config='[[namespaces]]\nbinding = "cf"\nname = "workers-ns"\nprofile = "cloudflare"\n')
    control, data = clients(server)
    with pytest.raises(control.exceptions.EntityNotFound):
        control.describe_key_value_store(Name="workers-ns")
    assert control.list_key_value_stores()["KeyValueStoreList"]["Quantity"] == 0
    r = requests.get(
        f"{server.url}/client/v4/accounts/{CREDENTIALS_ENV['EDGEKV_CLOUDFLARE_ACCOUNT_ID']}/storage/kv/namespaces",
        headers={"Authorization": f"Bearer {CREDENTIALS_ENV['EDGEKV_API_TOKEN']}"},
    )
    ns_id = uuid.UUID(r.json()["result"][0]["id"])
    with pytest.raises(data.exceptions.ResourceNotFoundException):
        data.describe_key_value_store(KvsARN=f"arn:aws:cloudfront::{AWS_ACCOUNT_ID}:key-value-store/{ns_id}")


def test_control_plane_errors(server, cf):
    control, _ = cf
    created = control.create_key_value_store(Name="named")["KeyValueStore"]
    with pytest.raises(control.exceptions.EntityNotFound):
        control.describe_key_value_store(Name=created["Id"])  # by name only, not by id
    for bad in ({"Name": "bad name!"}, {"Name": "x" * 65}, {"Name": "long-comment", "Comment": "c" * 129}):
        with pytest.raises(control.exceptions.InvalidArgument) as e:
            control.create_key_value_store(**bad)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(control.exceptions.InvalidArgument) as e:
        control.create_key_value_store(Name="bad name!")
    assert "1 to 64 characters" in e.value.response["Error"]["Message"]
    control.create_key_value_store(Name="max-comment", Comment="c" * 128)
    with pytest.raises(control.exceptions.UnsupportedOperation):
        control.create_key_value_store(Name="imported", ImportSource={"SourceType": "S3", "SourceARN": "arn:aws:s3:::bucket/kvs.json"})
    current = control.describe_key_value_store(Name="named")["ETag"]
    with pytest.raises(control.exceptions.InvalidArgument):
        control.update_key_value_store(Name="named", Comment="c" * 129, IfMatch=current)
    with pytest.raises(control.exceptions.EntityNotFound):
        control.update_key_value_store(Name="missing", Comment="c", IfMatch=current)
    with pytest.raises(control.exceptions.EntityNotFound):
        control.delete_key_value_store(Name="missing", IfMatch=current)
    assert control.list_key_value_stores(Status="READY")["KeyValueStoreList"]["Quantity"] == 2
    assert control.list_key_value_stores(Status="PROVISIONING")["KeyValueStoreList"]["Quantity"] == 0
    wrong, _ = clients(server, secret="not-the-secret")
    with pytest.raises(wrong.exceptions.AccessDenied):
        wrong.list_key_value_stores()


def race_with_one_etag(servers, store, writers=8):
    """`writers` clients, each on one of `servers` in turn, put key `race` = "writer I" at once, all
    with the store's ETag from before: [("ok", I, new ETag) or ("conflict", I, None)] per writer."""
    first = etag(clients(servers[0])[1], store)
    datas = [clients(servers[i % len(servers)])[1] for i in range(writers)]
    start = threading.Barrier(writers)

    def attempt(i):
        mine = datas[i]
        start.wait(timeout=60)
        try:
            return ("ok", i, mine.put_key(KvsARN=store, Key="race", Value=f"writer {i}", IfMatch=first)["ETag"])
        except mine.exceptions.ConflictException:
            return ("conflict", i, None)

    with ThreadPoolExecutor(writers) as pool:
        return list(pool.map(attempt, range(writers)))


def test_concurrent_writers_with_one_etag_exactly_one_wins(server, store):
    """Eight clients race with the same If-Match: one write lands, the others conflict, and the
    winner's ETag is the store's."""
    _, data = clients(server)
    results = race_with_one_etag([server], store)
    winners = [r for r in results if r[0] == "ok"]
    assert len(winners) == 1 and sum(r[0] == "conflict" for r in results) == 7
    _, winner, winner_etag = winners[0]
    assert data.get_key(KvsARN=store, Key="race")["Value"] == f"writer {winner}"
    assert etag(data, store) == winner_etag
    empty = data.put_key(KvsARN=store, Key="empty", Value="", IfMatch=winner_etag)
    assert data.get_key(KvsARN=store, Key="empty")["Value"] == "" and empty["ItemCount"] == 2


def test_http_proxy_environment_variable_route(server, store, monkeypatch):
    """The README's other set-up: HTTP_PROXY in the environment, no proxies in the client config."""
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    session = boto3.session.Session(aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET, region_name="us-east-1")
    data = session.client("cloudfront-keyvaluestore", endpoint_url=server.url, config=Config(retries={"max_attempts": 1}))
    put = data.put_key(KvsARN=store, Key="via/env-proxy", Value="ok", IfMatch=etag(data, store))
    assert put["ItemCount"] == 1 and data.get_key(KvsARN=store, Key="via/env-proxy")["Value"] == "ok"


def signed_headers(server, method, path, body=b"", headers=None, sigv4a=True, key_id=AWS_KEY_ID):
    """The headers boto3's signers add to a request (awscrt SigV4A, or SigV4)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.crt.auth import CrtSigV4AsymAuth

    creds = Credentials(key_id, AWS_SECRET)
    request = AWSRequest(method=method, url=f"{server.url}{path}", data=body, headers=headers or {})
    if sigv4a:
        CrtSigV4AsymAuth(creds, "cloudfront-keyvaluestore", "*").add_auth(request)
    else:
        SigV4Auth(creds, "cloudfront-keyvaluestore", "us-east-1").add_auth(request)
    return dict(request.headers)


def send_head(server, method, path, headers, body=None):
    """Sends a request exactly as given (no path normalisation); with `body=None`, only the head,
    whatever Content-Length it declares. Returns (status, error type, message)."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    if not any(name.lower() == "host" for name in headers):
        conn.putheader("host", f"127.0.0.1:{server.port}")
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders(body)
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    message = json.loads(text).get("message") if r.getheader("content-type") == "application/json" else text
    return r.status, r.getheader("x-amzn-errortype"), message


def test_a_head_that_fails_the_signature_checks_is_refused_before_its_body(server, store):
    """Each request declares a 4 MiB body and never sends it: the answer must come from the head."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day, stamp = f"{now:%Y%m%d}", f"{now:%Y%m%dT%H%M%SZ}"
    path = f"/key-value-stores/{quoted(store)}/keys/k"

    def authorization(key_id=AWS_KEY_ID, date=day, signed="host;x-amz-date", service="cloudfront-keyvaluestore"):
        return (f"AWS4-HMAC-SHA256 Credential={key_id}/{date}/us-east-1/{service}/aws4_request, "
                f"SignedHeaders={signed}, Signature={'0' * 64}")

    base = {"host": f"{AWS_ACCOUNT_ID}.127.0.0.1:{server.port}", "content-length": str(4 * 1024 * 1024),
            "content-type": "application/json", "if-match": "x", "x-amz-date": stamp}
    old = "20200101T000000Z"
    cases = [
        ({}, "Missing Authentication Token"),
        ({"authorization": "Bearer edgekv-test-token"}, "Malformed"),
        ({"authorization": authorization(key_id="AKIAUNKNOWN000000000")}, "access key"),
        ({"authorization": authorization(service="s3")}, "scoped to the service"),
        ({"authorization": authorization(date="20200101"), "x-amz-date": old}, "15 minutes"),
        ({"authorization": authorization(signed="x-amz-date")}, "host"),
        ({"authorization": authorization().replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")}, "algorithm"),
        ({"authorization": authorization().replace("0" * 64, "not-a-signature")}, "signature"),
    ]
    for extra, words in cases:
        status, kind, message = send_head(server, "PUT", path, {**base, **extra})
        assert (status, kind) == (403, "AccessDeniedException"), (extra, message)
        assert words in message, (extra, message)
    # The dot segment is the client's input: refused from the head too, as a ValidationException.
    signed = signed_headers(server, "PUT", f"/key-value-stores/{quoted(store)}/keys/..", b"")
    status, kind, message = send_head(server, "PUT", f"/key-value-stores/{quoted(store)}/keys/..",
                                      {**signed, "content-length": str(4 * 1024 * 1024)})
    assert (status, kind) == (400, "ValidationException") and "segment" in message
    # The control plane too, in its own format.
    control = {**base, "host": f"127.0.0.1:{server.port}"}
    status, _, message = send_head(server, "POST", "/2020-05-31/key-value-store", control)
    assert status == 403 and "<Code>AccessDenied</Code>" in message
    # A head that passes is read to its end and verified as before.
    etag_now = send_head(server, "GET", f"/key-value-stores/{quoted(store)}",
                         signed_headers(server, "GET", f"/key-value-stores/{quoted(store)}"))
    assert etag_now[0] == 200


@pytest.mark.parametrize("sigv4a", [True, False], ids=["sigv4a", "sigv4"])
def test_a_signature_is_not_replayed_on_paths_that_resolve_to_its_own(server, cf, store, sigv4a):
    """boto3 signs a path with its dot and empty segments resolved; routing keeps them. A signed
    DescribeKeyValueStore (or ListKeys) must not read keys `..` (or `.`) through such a path."""
    _, data = cf
    data.update_keys(KvsARN=store, IfMatch=etag(data, store), Puts=[{"Key": "..", "Value": "secret .."}, {"Key": ".", "Value": "secret ."}])
    describe = f"/key-value-stores/{quoted(store)}"
    list_keys = f"{describe}/keys"
    for signed_path, replayed in [
        (describe, f"{describe}/keys/.."),
        (describe, f"{describe}/keys/x/.."),
        (describe, f"{describe}/."),
        (describe, f"/key-value-stores//{quoted(store)}"),
        (describe, f"/key-value-stores/./{quoted(store)}"),
        (list_keys, f"{list_keys}/."),
        (list_keys, f"{describe}//keys"),
    ]:
        headers = signed_headers(server, "GET", signed_path, sigv4a=sigv4a)
        assert send_head(server, "GET", signed_path, headers)[0] == 200
        status, kind, message = send_head(server, "GET", replayed, headers)
        assert (status, kind) == (400, "ValidationException"), (replayed, status, message)
        assert "segment" in message and "secret" not in message, (replayed, message)
