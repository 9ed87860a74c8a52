"""TLS on edgekv's listeners (`--tls-cert`/`--tls-key`, `--admin-tls-cert`/`--admin-tls-key`), with a
throwaway CA of the test's own: the Cloudflare, boto3 (CloudFront KeyValueStore, SigV4) and Telnyx
SDKs write and read over https trusting that CA, a guest answers over https, HTTP/2 is negotiated
through ALPN, either listener may be TLS without the other, a bad certificate or key stops the
start naming the problem, and a client that connects and then sends nothing does not keep its
connection slot past the header timeout."""

import shutil
import socket
import ssl
import subprocess
import uuid
from types import SimpleNamespace

import boto3
import cloudflare
import pytest
import requests
import telnyx
from botocore.config import Config

from certs import certificate_authority, server_certificate
from conftest import API_TOKEN, AWS_ACCOUNT_ID, AWS_KEY_ID, AWS_SECRET, CF_ACCOUNT_ID, CREDENTIALS_ENV, EDGEKV_BIN, guest

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")

# boto3 sends the CloudFront KeyValueStore data plane to `<account id>.<endpoint host>`: the
# certificate names that host too, and the test resolves it to 127.0.0.1.
DATA_PLANE_HOST = f"{AWS_ACCOUNT_ID}.localhost"
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def certs(tmp_path):
    """A CA and a server certificate it signed; another CA's server certificate and key."""
    certificate_authority(tmp_path, "ca")
    cert, key = server_certificate(tmp_path, "ca", hosts=[DATA_PLANE_HOST])
    certificate_authority(tmp_path, "other-ca")
    other_cert, other_key = server_certificate(tmp_path, "other-ca", name="other")
    return SimpleNamespace(ca=str(tmp_path / "ca.crt"), cert=str(cert), key=str(key),
                           other_cert=str(other_cert), other_key=str(other_key), dir=tmp_path)


def tls_args(certs, prefix="--"):
    return [f"{prefix}tls-cert", certs.cert, f"{prefix}tls-key", certs.key]


def printed_url(server, what):
    """The URL the server printed for `what` ("management APIs" or "data browser")."""
    return server.wait_for_log(rf"{what}: (https?://127\.0\.0\.1:\d+)").group(1)


def curl(*args):
    """curl's output: `--write-out` HTTP version, then the body."""
    done = subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def resolve_localhost_subdomains(monkeypatch):
    """`*.localhost` resolves to 127.0.0.1 (as systemd-resolved does), for boto3's data-plane host."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_the_sdks_write_and_read_over_https(edgekv, certs, resolve_localhost_subdomains):
    server = edgekv(args=tls_args(certs))
    assert server.url.startswith("https://")
    trust = ssl.create_default_context(cafile=certs.ca)

    cf = cloudflare.Cloudflare(api_token=API_TOKEN, base_url=f"{server.url}/client/v4", max_retries=0,
                               http_client=cloudflare.DefaultHttpxClient(verify=trust))
    ns = cf.kv.namespaces.create(account_id=CF_ACCOUNT_ID, title="cloudflare-over-tls").id
    cf.kv.namespaces.values.update("k", account_id=CF_ACCOUNT_ID, namespace_id=ns, value=b"cloudflare", metadata={})
    assert cf.kv.namespaces.values.get("k", account_id=CF_ACCOUNT_ID, namespace_id=ns).read() == b"cloudflare"

    tx = telnyx.Telnyx(api_key=API_TOKEN, base_url=f"{server.url}/v2", max_retries=0,
                       http_client=telnyx.DefaultHttpxClient(verify=trust))
    tx_ns = tx.storage.kvs.create(name=f"ns-{uuid.uuid4().hex[:8]}").data.id
    tx.storage.kvs.keys.update("k", b"telnyx", id=tx_ns)
    assert tx.storage.kvs.keys.retrieve("k", id=tx_ns).read() == b"telnyx"

    endpoint = f"https://localhost:{server.port}"
    session = boto3.session.Session(aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET,
                                    region_name="us-east-1")
    config = Config(retries={"max_attempts": 1}, signature_version="v4")
    control = session.client("cloudfront", endpoint_url=endpoint, verify=certs.ca, config=config)
    arn = control.create_key_value_store(Name="cloudfront-over-tls")["KeyValueStore"]["ARN"]
    data = session.client("cloudfront-keyvaluestore", endpoint_url=endpoint, verify=certs.ca, config=config)
    etag = data.describe_key_value_store(KvsARN=arn)["ETag"]
    assert data.put_key(KvsARN=arn, Key="k", Value="cloudfront", IfMatch=etag)["ItemCount"] == 1
    assert data.get_key(KvsARN=arn, Key="k")["Value"] == "cloudfront"

    # A client that does not trust the CA is refused.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{server.url}/_edgekv/livez")


def test_a_guest_answers_over_https_and_http2_is_negotiated(edgekv, certs, guests_dir):
    server = edgekv(app=guest("rust-kv-api"), args=tls_args(certs))
    put = requests.put(f"{server.url}/kv/greeting", data=b"hello over tls", headers={"x-binding": "default"},
                       verify=certs.ca)
    assert put.ok, put.text
    assert requests.get(f"{server.url}/kv/greeting", headers={"x-binding": "default"},
                        verify=certs.ca).content == b"hello over tls"
    for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
        out = curl(flag, "--cacert", certs.ca, "-H", "x-binding: default", "--write-out", "%{http_version}\n",
                   "-o", "/dev/null", f"{server.url}/kv/greeting")
        assert out.strip() == version, (flag, out)
    # Over HTTP/2: a guest's body, a management API, and several requests on one connection.
    body = curl("--http2", "--cacert", certs.ca, "-H", "x-binding: default", f"{server.url}/kv/greeting")
    assert body == "hello over tls"
    namespaces = curl("--http2", "--cacert", certs.ca, "-H", f"Authorization: Bearer {API_TOKEN}",
                      "--write-out", "\n%{http_version}", f"{server.url}/_edgekv/api/namespaces")
    assert namespaces.endswith("\n2") and '"name":"default"' in namespaces
    twice = curl("--http2", "--cacert", certs.ca, "-H", "x-binding: default", "--write-out", " %{num_connects}",
                 f"{server.url}/kv/greeting", f"{server.url}/kv/greeting")
    assert twice == "hello over tls 1hello over tls 0"


def test_the_admin_listener_serves_tls_on_its_own(edgekv, certs):
    # Main plain, admin over TLS (with the data browser, which shares it).
    server = edgekv(args=["--admin-listen", "127.0.0.1:0", *tls_args(certs, "--admin-")])
    assert server.url.startswith("http://")
    assert "no app serves this path" in requests.get(f"{server.url}/").text
    admin = printed_url(server, "management APIs")
    assert admin.startswith("https://")
    assert printed_url(server, "data browser") == admin
    assert requests.get(f"{admin}/_edgekv/api/namespaces", headers=BEARER, verify=certs.ca).ok
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{admin.replace('https://', 'http://')}/livez", timeout=10)


def test_the_main_listener_serves_tls_with_a_plain_admin_listener(edgekv, certs):
    server = edgekv(args=["--admin-listen", "127.0.0.1:0", *tls_args(certs)])
    assert server.url.startswith("https://")
    assert "no app serves this path" in requests.get(f"{server.url}/", verify=certs.ca).text
    admin = printed_url(server, "management APIs")
    assert admin.startswith("http://")
    assert requests.get(f"{admin}/_edgekv/api/namespaces", headers=BEARER).ok


def test_the_browsers_own_listener_follows_the_main_one_without_an_admin_listener(edgekv, certs):
    server = edgekv(args=tls_args(certs))
    browser = printed_url(server, "data browser")
    assert browser.startswith("https://") and browser != server.url
    # The browser's page asks for its sign-in.
    assert requests.get(f"{browser}/_edgekv/", verify=certs.ca).status_code == 401


def start_refused(tmp_path, args):
    """Runs `edgekv serve ARGS`, which must stop before listening: its output."""
    done = subprocess.run(
        [EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), *args],
        env={**CREDENTIALS_ENV, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "listening" not in output, output
    return output


def test_a_bad_certificate_or_key_stops_the_start(tmp_path, certs):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not PEM\n")
    missing = str(tmp_path / "missing.pem")
    cases = [
        (["--tls-cert", str(garbage), "--tls-key", certs.key], [str(garbage), "no PEM certificate"]),
        (["--tls-cert", certs.cert, "--tls-key", str(garbage)], [str(garbage), "no PEM private key"]),
        (["--tls-cert", missing, "--tls-key", certs.key], [missing]),
        (["--tls-cert", certs.cert, "--tls-key", missing], [missing]),
        (["--tls-cert", certs.cert, "--tls-key", certs.other_key], [certs.other_key, "does not match", certs.cert]),
        (["--tls-cert", certs.cert], ["--tls-cert needs --tls-key"]),
        (["--admin-listen", "127.0.0.1:0", "--admin-tls-cert", certs.cert, "--admin-tls-key", certs.other_key],
         [certs.other_key, "does not match"]),
        (["--admin-tls-cert", certs.cert, "--admin-tls-key", certs.key], ["--admin-listen"]),
    ]
    for args, expected in cases:
        output = start_refused(tmp_path, args)
        for text in expected:
            assert text in output, (args, output)


def test_config_file_certificates_are_relative_to_it_and_checked(edgekv, tmp_path, certs):
    # The certificates are in tmp_path, as are the config files (the fixture writes them there).
    (tmp_path / "mismatched.toml").write_text('[server]\ntls_cert = "server.crt"\ntls_key = "other.key"\n')
    output = start_refused(tmp_path, ["--config", str(tmp_path / "mismatched.toml")])
    assert "does not match" in output and str(tmp_path / "other.key") in output, output
    server = edgekv(config='[server]\ntls_cert = "server.crt"\ntls_key = "server.key"\n')
    assert server.url.startswith("https://")
    assert requests.get(f"{server.url}/_edgekv/livez", verify=certs.ca).ok


def tls_client(server, certs, alpn):
    """A TLS connection to the server that offered only `alpn` and has sent nothing since."""
    context = ssl.create_default_context(cafile=certs.ca)
    context.set_alpn_protocols([alpn])
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", server.port)), server_hostname="127.0.0.1")
    assert sock.selected_alpn_protocol() == alpn
    return sock


def closed_by_server(sock):
    """Reads until the server closes the connection (a bounded wait): what it sent."""
    sock.settimeout(30)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize("silent", ["no handshake", "http/1.1, no request", "h2, no request"])
def test_a_silent_client_loses_its_slot_at_the_header_timeout(edgekv, certs, silent):
    # One connection slot: while the silent client holds it, nobody else is served; once the header
    # timeout cuts it, the next client is.
    server = edgekv(args=[*tls_args(certs), "--max-connections", "1", "--header-timeout", "1"])
    if silent == "no handshake":
        sock = socket.create_connection(("127.0.0.1", server.port))
    else:
        sock = tls_client(server, certs, silent.split(",")[0])
    try:
        served = requests.get(f"{server.url}/_edgekv/livez", verify=certs.ca, timeout=30)
        assert served.ok
        closed_by_server(sock)
    finally:
        sock.close()


def test_an_h2_connection_is_not_cut_while_its_requests_run(edgekv, certs, guests_dir):
    # Two one-second requests, one after the other on one HTTP/2 connection, with a one-second
    # header timeout: the connection has a request open throughout, so it is never idle.
    server = edgekv(app=guest("misbehave"), args=[*tls_args(certs), "--header-timeout", "1"])
    out = curl("--http2", "--cacert", certs.ca, "--write-out", "%{http_version} %{num_connects}\n",
               f"{server.url}/sleep", f"{server.url}/sleep")
    assert out == "slept\n2 1\nslept\n2 0\n", out
