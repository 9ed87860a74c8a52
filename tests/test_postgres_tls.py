"""TLS to PostgreSQL, as the store URL asks for it: on a server of the test's own with TLS turned on
(a certificate for 127.0.0.1 signed by a throwaway CA), `sslmode=verify-full` with that CA as
`sslrootcert` and `sslmode=require` both connect every one of a node's connections encrypted, and
`verify-full` against another CA refuses to start."""

import os
import shutil
import subprocess
import uuid

import pytest
import requests

from certs import certificate_authority, server_certificate
from conftest import API_TOKEN, CREDENTIALS_ENV, EDGEKV_BIN
from test_postgres_faults import POSTGRES, postgres  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(
    POSTGRES is None or shutil.which("openssl") is None,
    reason="needs PostgreSQL's server binaries (tests/postgres.sh installs them) and openssl",
)


def psql(url, sql):
    return subprocess.run(["psql", url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def tls_postgres(postgres, tmp_path):  # noqa: F811
    """The test's PostgreSQL server with TLS on: (url, CA certificate, another CA's certificate)."""
    url, directory = postgres
    ca = certificate_authority(tmp_path, "ca")
    other_ca = certificate_authority(tmp_path, "other-ca")
    server_certificate(tmp_path, "ca")
    for name in ("server.crt", "server.key"):
        shutil.copy(tmp_path / name, f"{directory}/{name}")
        if os.getuid() == 0:
            shutil.chown(f"{directory}/{name}", "postgres", "postgres")
        os.chmod(f"{directory}/{name}", 0o600)
    psql(url, f"ALTER SYSTEM SET ssl_cert_file = '{directory}/server.crt'")
    psql(url, f"ALTER SYSTEM SET ssl_key_file = '{directory}/server.key'")
    psql(url, "ALTER SYSTEM SET ssl = on")
    psql(url, "SELECT pg_reload_conf()")
    assert psql(url, "SHOW ssl") == "on"
    return url, ca, other_ca


def serve(edgekv, store_url):
    return edgekv(args=["--store", store_url])


def encryption_of(url, application_name):
    """Whether each connection of that application name is encrypted."""
    rows = psql(url, "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                     f"WHERE a.application_name = '{application_name}'")
    return rows.split()


@pytest.mark.parametrize("mode", ["verify-full", "require"])
def test_every_connection_of_a_node_is_encrypted_when_the_url_asks(edgekv, tls_postgres, mode):
    url, ca, _ = tls_postgres
    name = f"edgekv_tls_{uuid.uuid4().hex[:8]}"
    query = f"sslmode={mode}&application_name={name}" + (f"&sslrootcert={ca}" if mode == "verify-full" else "")
    node = serve(edgekv, f"{url}?{query}")
    created = requests.post(f"{node.url}/v2/storage/kvs", json={"name": "over-tls"},
                            headers={"authorization": f"Bearer {API_TOKEN}"})
    assert created.status_code == 201, created.text
    used = encryption_of(url, name)
    assert used and set(used) == {"t"}, used  # the writer's connection and the pool's


def test_verify_full_against_another_authority_refuses_to_start(tls_postgres, tmp_path):
    url, _, other_ca = tls_postgres
    env = {**os.environ, **CREDENTIALS_ENV}
    env.pop("RUST_BACKTRACE", None)
    done = subprocess.run(
        [EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
         "--store", f"{url}?sslmode=verify-full&sslrootcert={other_ca}"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    assert "certificate" in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
