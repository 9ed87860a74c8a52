"""The operations endpoints: `/_edgekv/livez` and `/_edgekv/readyz` answer without credentials on
the main port (and at `/livez`, `/readyz` on the admin listener); readiness follows the store: 503
with the reason while its database is down, 200 again once it is back, without a restart."""

import time

import pytest
import requests

from conftest import guest
from test_postgres_faults import POSTGRES, crash, postgres, restart  # noqa: F401 (fixture)


def test_livez_and_readyz_answer_without_credentials(edgekv):
    server = edgekv(app=guest("rust-kv-api"))
    for path in ("/_edgekv/livez", "/_edgekv/readyz"):
        r = requests.get(f"{server.url}{path}")
        assert (r.status_code, r.text) == (200, "ok\n"), path
        assert r.headers["cache-control"] == "no-store"
        assert requests.head(f"{server.url}{path}").status_code == 200
        posted = requests.post(f"{server.url}{path}")
        assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"
    # Nothing else under /_edgekv/ is public.
    assert requests.get(f"{server.url}/_edgekv/api/namespaces").status_code == 401
    # Guests own the root of the main port.
    assert requests.get(f"{server.url}/livez").status_code == 404
    assert requests.get(f"{server.url}/livez").text.startswith("routes: ")  # the guest's own 404


def test_the_admin_listener_has_them_at_its_root(edgekv):
    server = edgekv(app=guest("rust-kv-api"), args=["--admin-listen", "127.0.0.1:0"])
    admin = server.wait_for_log(r"management APIs: (http://127\.0\.0\.1:\d+)/client/v4").group(1)
    for path in ("/livez", "/readyz", "/_edgekv/livez", "/_edgekv/readyz"):
        r = requests.get(f"{admin}{path}")
        assert (r.status_code, r.text) == (200, "ok\n"), path
    assert requests.get(f"{admin}/livez/more").status_code == 404


@pytest.mark.skipif(POSTGRES is None, reason="no PostgreSQL server binaries (tests/postgres.sh installs them)")
def test_readyz_follows_the_database(edgekv, postgres):  # noqa: F811 (fixture)
    url, directory = postgres
    server = edgekv(args=["--store", url])
    ready = f"{server.url}/_edgekv/readyz"
    assert requests.get(ready).status_code == 200
    crash(directory)
    down = requests.get(ready, timeout=30)
    assert down.status_code == 503 and down.text.startswith("store: "), down.text
    assert requests.get(f"{server.url}/_edgekv/livez").status_code == 200, "the process still serves"
    restart(directory)
    deadline = time.monotonic() + 60
    while requests.get(ready, timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "readyz did not turn 200 after the database came back"
        time.sleep(0.2)
