"""Management credentials from outside: a blank credential (set but empty, as when a CI secret did
not expand) stops the start and names the setting; empty Bearer, Basic and X-Auth-Key credentials
are never accepted; the first start generates, saves and prints only what was not given, never a
given secret, with the management listener's URLs; an unreadable or corrupt credentials.json stops
the start and is left as it was; the data dir and database are private to their owner."""

import base64
import json
import os
import re
import subprocess
import threading
import time

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import (
    API_TOKEN,
    AWS_SECRET,
    CF_ACCOUNT_ID,
    CREDENTIALS_ENV,
    EDGEKV_BIN,
    LISTENING,
    Server,
)

START_TIMEOUT = 60
SECRETS = {"EDGEKV_API_TOKEN", "EDGEKV_AWS_SECRET_ACCESS_KEY"}


def environment(**changes):
    """The test credentials with `changes` applied (a value of None unsets that variable)."""
    env = {**os.environ, **CREDENTIALS_ENV}
    env.pop("RUST_BACKTRACE", None)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class Run:
    """One `edgekv serve` process run until it exits or listens; `url` is set if it listens."""

    def __init__(self, data_dir, args=(), env=None):
        cmd = [EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines, self.url = [], None
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while self.url is None and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            m = LISTENING.match(line.strip())
            if m:
                self.url = m.group(1)

    def finish(self):
        """Kills the process if it still runs; its exit code and whole output."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(timeout=10)
        return self.proc.returncode, "".join(self.lines)

    def served(self):
        """Whether it answers a request: its start-up output is then all printed."""
        return requests.get(f"{self.url}/_edgekv/", timeout=10).status_code == 401


@pytest.fixture
def serve(tmp_path):
    """Factory: `serve(args=[], **env_changes)` starts a server with the test credentials changed
    as `environment` does; all are stopped at teardown."""
    servers = []

    def start(args=(), **changes):
        server = Server(tmp_path / f"data-{len(servers)}", list(args), environment(**changes))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def empty_credential_requests(url):
    """(what, response) for requests that present empty credentials to each management API."""
    cf = f"{url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    empty_basic = "Basic " + base64.b64encode(b"edgekv:").decode()
    return [
        ("Cloudflare, empty Bearer", requests.get(cf, headers={"Authorization": "Bearer "}, timeout=10)),
        ("Cloudflare, empty X-Auth-Key", requests.get(cf, headers={"X-Auth-Email": "a@example.com", "X-Auth-Key": ""}, timeout=10)),
        ("Telnyx, empty Bearer", requests.get(f"{url}/v2/storage/kvs", headers={"Authorization": "Bearer "}, timeout=10)),
        ("browser, empty Basic password", requests.get(f"{url}/_edgekv/api/namespaces", headers={"Authorization": empty_basic}, timeout=10)),
        ("browser, empty Bearer", requests.get(f"{url}/_edgekv/api/namespaces", headers={"Authorization": "Bearer "}, timeout=10)),
    ]


def assert_refused_at_start(data_dir, args, env, setting, secret=None):
    run = Run(data_dir, args, env)
    if run.url is not None:
        try:
            accepted = [what for what, r in empty_credential_requests(run.url) if r.status_code < 400]
        finally:
            run.finish()
        pytest.fail(f"started with a blank {setting}; it accepted: {accepted or 'nothing'}")
    code, output = run.finish()
    assert code != 0
    assert setting in output, output
    if secret:
        assert secret not in output, output
    return output


BLANK = [
    pytest.param({"EDGEKV_API_TOKEN": ""}, [], "EDGEKV_API_TOKEN", id="empty-token-env"),
    pytest.param({"EDGEKV_API_TOKEN": "   "}, [], "EDGEKV_API_TOKEN", id="spaces-token-env"),
    pytest.param({"EDGEKV_API_TOKEN": "\t\n"}, [], "EDGEKV_API_TOKEN", id="tab-newline-token-env"),
    pytest.param({}, ["--api-token", ""], "--api-token", id="empty-token-flag"),
    pytest.param({"EDGEKV_API_TOKEN": None}, ["--api-token", " "], "--api-token", id="space-token-flag"),
    pytest.param({"EDGEKV_AWS_SECRET_ACCESS_KEY": ""}, [], "EDGEKV_AWS_SECRET_ACCESS_KEY", id="empty-aws-secret-env"),
    pytest.param({}, ["--aws-secret-access-key", ""], "--aws-secret-access-key", id="empty-aws-secret-flag"),
    pytest.param({"EDGEKV_AWS_ACCESS_KEY_ID": ""}, [], "EDGEKV_AWS_ACCESS_KEY_ID", id="empty-aws-key-id-env"),
    pytest.param({"EDGEKV_CLOUDFLARE_ACCOUNT_ID": " "}, [], "EDGEKV_CLOUDFLARE_ACCOUNT_ID", id="blank-cf-account-env"),
    pytest.param({"EDGEKV_AWS_ACCOUNT_ID": ""}, [], "EDGEKV_AWS_ACCOUNT_ID", id="empty-aws-account-env"),
]


@pytest.mark.parametrize("env_changes, args, setting", BLANK)
def test_a_blank_credential_stops_the_start_and_names_the_setting(tmp_path, env_changes, args, setting):
    data = tmp_path / "data"
    assert_refused_at_start(data, args, environment(**env_changes), setting)
    assert not (data / "credentials.json").exists()


def test_a_padded_secret_is_refused_without_being_printed(tmp_path):
    secret = " padded-s3cr3t-value "
    output = assert_refused_at_start(
        tmp_path / "data", [], environment(EDGEKV_API_TOKEN=secret), "EDGEKV_API_TOKEN", secret.strip()
    )
    assert "whitespace" in output


def test_empty_credentials_are_refused_by_every_management_api(serve):
    server = serve()
    for what, response in empty_credential_requests(server.url):
        assert response.status_code in (400, 401, 403), f"{what}: {response.status_code} {response.text}"
    ok = requests.get(f"{server.url}/v2/storage/kvs", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10)
    assert ok.status_code == 200, ok.text


def test_all_credentials_given_generates_and_prints_none(tmp_path):
    run = Run(tmp_path / "data", [], environment())
    assert run.url and run.served()
    _, log = run.finish()
    for value in CREDENTIALS_ENV.values():
        if value in (API_TOKEN, AWS_SECRET):
            assert value not in log
    assert "generated" not in log, log
    assert not (tmp_path / "data" / "credentials.json").exists()


def settings(log):
    """The printed client settings, NAME=value."""
    return dict(re.findall(r"([A-Za-z_]+)=(\S+)", log))


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param(["EDGEKV_API_TOKEN"], id="token"),
        pytest.param(["EDGEKV_AWS_ACCESS_KEY_ID", "EDGEKV_AWS_SECRET_ACCESS_KEY"], id="aws-key-pair"),
        pytest.param(["EDGEKV_CLOUDFLARE_ACCOUNT_ID", "EDGEKV_AWS_ACCOUNT_ID"], id="account-ids"),
    ],
)
def test_only_what_is_missing_is_generated_saved_and_printed(serve, missing):
    server = serve(**{name: None for name in missing})
    server.wait_for_log(r"AWS: .*\n")
    generated = server.wait_for_log(r"generated (.*) into ").group(1).split(", ")
    assert sorted(generated) == sorted(missing)
    saved = json.loads((server.data_dir / "credentials.json").read_text())
    assert sorted(saved) == sorted(name.removeprefix("EDGEKV_").lower() for name in missing)
    log = server.log()
    for name, value in CREDENTIALS_ENV.items():
        if name in SECRETS and name not in missing:
            assert value not in log, f"{name} was given and printed"
            assert f"${name}" in log
    printed = settings(log)
    if "EDGEKV_API_TOKEN" in missing:
        assert printed["CLOUDFLARE_API_TOKEN"] == saved["api_token"]
        ok = requests.get(f"{server.url}/v2/storage/kvs", headers={"Authorization": f"Bearer {saved['api_token']}"}, timeout=10)
        assert ok.status_code == 200, ok.text
    if "EDGEKV_AWS_SECRET_ACCESS_KEY" in missing:
        assert printed["AWS_SECRET_ACCESS_KEY"] == saved["aws_secret_access_key"]
    server.stop()
    again = Run(server.data_dir, server.store_args, server.env)
    assert again.url and again.served()
    _, log = again.finish()
    assert "generated" not in log, log
    assert json.loads((server.data_dir / "credentials.json").read_text()) == saved


def test_printed_settings_use_the_admin_listener(serve):
    server = serve(["--admin-listen", "127.0.0.1:0"], EDGEKV_API_TOKEN=None, EDGEKV_AWS_SECRET_ACCESS_KEY=None)
    server.wait_for_log(r"AWS: .*\n")
    printed = settings(server.log())
    admin = server.wait_for_log(r"management APIs: (http://127\.0\.0\.1:\d+)/client/v4").group(1)
    assert admin != server.url
    assert printed["CLOUDFLARE_API_BASE_URL"] == f"{admin}/client/v4"
    assert printed["base_url"] == f"{admin}/v2"
    assert printed["endpoint_url"] == admin
    # The printed settings work as printed.
    token = printed["CLOUDFLARE_API_TOKEN"]
    listed = requests.get(
        f"{printed['CLOUDFLARE_API_BASE_URL']}/accounts/{printed['CLOUDFLARE_ACCOUNT_ID']}/storage/kv/namespaces",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert listed.status_code == 200, listed.text
    client = boto3.client(
        "cloudfront",
        endpoint_url=printed["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id=printed["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=printed["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.list_key_value_stores()["KeyValueStoreList"]["Items"] == []


CORRUPT = [
    pytest.param(b"{not json", id="syntax"),
    pytest.param(b"", id="empty-file"),
    pytest.param(b"[]", id="not-an-object"),
    pytest.param(b'{"api_token": "\xff\xfe"}', id="not-utf8"),
    pytest.param(b'{"api_token": 5}', id="not-a-string"),
    pytest.param(b'{"api_token": ""}', id="empty-token"),
    pytest.param(
        b'{"api_token": "", "cloudflare_account_id": "0123456789abcdef0123456789abcdef", "aws_access_key_id": "AKIAX",'
        b' "aws_secret_access_key": "s", "aws_account_id": "123456789012"}',
        id="every-field-token-empty",
    ),
]


@pytest.mark.parametrize("content", CORRUPT)
def test_a_corrupt_credentials_file_stops_the_start_and_is_kept(tmp_path, content):
    data = tmp_path / "data"
    data.mkdir()
    file = data / "credentials.json"
    file.write_bytes(content)
    output = assert_refused_at_start(data, [], environment(EDGEKV_API_TOKEN=None), "credentials.json")
    assert file.read_bytes() == content, output


def test_an_unreadable_credentials_file_stops_the_start(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode (the directory case below covers this path)")
    data = tmp_path / "data"
    data.mkdir()
    file = data / "credentials.json"
    file.write_text('{"api_token": "saved-token"}')
    file.chmod(0)
    try:
        output = assert_refused_at_start(data, [], environment(EDGEKV_API_TOKEN=None), "credentials.json")
        assert "cannot read" in output
    finally:
        file.chmod(0o600)
    assert file.read_text() == '{"api_token": "saved-token"}'


def test_a_credentials_path_that_is_a_directory_stops_the_start(tmp_path):
    data = tmp_path / "data"
    (data / "credentials.json").mkdir(parents=True)
    output = assert_refused_at_start(data, [], environment(EDGEKV_API_TOKEN=None), "credentials.json")
    assert "cannot read" in output
    assert (data / "credentials.json").is_dir()


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path):
    return path.stat().st_mode & 0o777


@pytest.mark.sqlite_only("checks the file modes of the SQLite database in the data dir")
def test_serve_creates_a_private_data_dir_and_database(umask_022, serve):
    server = serve(EDGEKV_API_TOKEN=None)
    server.wait_for_log(r"AWS: .*\n")
    cf = f"{server.url}/client/v4/accounts/{CF_ACCOUNT_ID}/storage/kv/namespaces"
    token = settings(server.log())["CLOUDFLARE_API_TOKEN"]
    created = requests.post(cf, json={"title": "private"}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert created.status_code == 200, created.text
    data = server.data_dir
    assert mode(data) == 0o700
    for name in ["kv.sqlite3", "kv.sqlite3-wal", "kv.sqlite3-shm", "credentials.json"]:
        assert mode(data / name) == 0o600, name


@pytest.mark.sqlite_only("checks the file modes of the SQLite database `edgekv kv` creates in the data dir")
def test_kv_creates_a_private_data_dir_and_database(tmp_path, umask_022):
    data = tmp_path / "fresh" / "data"
    done = subprocess.run(
        [EDGEKV_BIN, "kv", "--data-dir", str(data), "namespace", "create", "private"],
        capture_output=True,
        timeout=60,
        env=environment(),
    )
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "fresh") == 0o700
    assert mode(data) == 0o700
    assert mode(data / "kv.sqlite3") == 0o600
    for side in ["kv.sqlite3-wal", "kv.sqlite3-shm"]:
        if (data / side).exists():
            assert mode(data / side) == 0o600, side
