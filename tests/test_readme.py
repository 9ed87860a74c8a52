"""Every ```sh block of README.md, run as written, in a temporary folder as a reader's shell would
have it: `edgekv` on PATH (a symlink to $EDGEKV_BIN), `app.wasm` (the rust-kv-api guest), the files
the README's prose says the reader has (a seed file, its edgekv.toml and seed, certificates), the
credentials under the names the README uses (`T`, `KEY_ID`, `SECRET`, the `EDGEKV_*` variables),
and a server running where a block talks to one without starting it.

The README's default address 127.0.0.1:8787 becomes a free port: in the block's text, and through
EDGEKV_LISTEN and EDGEKV_SERVER for the commands that use the default without naming it. Each block
runs under `bash -e -o pipefail`, and curl fails on an HTTP error status (a wrapper on PATH adds
`--fail-with-body` when the block's own curl does not ask for -f), as a reader would see the block
fail. A block that ends by serving in the foreground (`edgekv dev`, `edgekv serve`) passes when it
serves what the README says, and is then stopped.

Each block is named, by its first command line, in RUN (how it runs) or EXEMPT (why it does not);
a block named in neither fails, so a new README block cannot be skipped silently."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from certs import certificate_authority, server_certificate
from conftest import API_TOKEN, AWS_KEY_ID, AWS_SECRET, CREDENTIALS_ENV, EDGEKV_BIN, REPO, Server, guest

README = REPO / "README.md"
DEFAULT = "127.0.0.1:8787"
LISTENING = re.compile(r"^edgekv listening on (https?://\S+)$", re.M)
# A first build of an app from a template (npm ci and componentize-js, or compiling wit-bindgen)
# takes minutes on a busy 2-core machine, never more than this.
BUILD_TIMEOUT = 600


def blocks():
    """(line, key, text) of every ```sh block: key is its first command line without a comment."""
    text = README.read_text()
    found = []
    for m in re.finditer(r"^```sh\n(.*?)^```", text, re.M | re.S):
        body = m.group(1)
        first = next(line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#"))
        found.append((text[: m.start()].count("\n") + 1, re.sub(r"\s+#.*$", "", first).strip(), body))
    return found


# ---- what a block needs around it ---------------------------------------------------------------


def seed_json(work):
    (work / "seed.json").write_text('[{"key": "user/1", "value": "ada"}, {"key": "user/2", "value": "grace"}]')


def users_config(work):
    """The README's own edgekv.toml of the seeded `users` namespace, and its seed."""
    toml = next(m.group(1) for m in re.finditer(r"^```toml\n(.*?)^```", README.read_text(), re.M | re.S)
                if 'name = "users"' in m.group(1))
    (work / "edgekv.toml").write_text(toml)
    seed = re.search(r'^seed = "(.+)"$', toml, re.M).group(1)
    (work / seed).parent.mkdir(parents=True, exist_ok=True)
    (work / seed).write_text('[{"key": "ada", "value": "{\\"name\\": \\"Ada\\"}"}]')


def certificates(work):
    """ca.pem, and server.pem with server.key for 127.0.0.1, as the TLS block names them."""
    certificate_authority(work, "ca")
    cert, key = server_certificate(work, "ca")
    (work / "ca.crt").rename(work / "ca.pem")
    cert.rename(work / "server.pem")
    assert key == work / "server.key"


def snapshot_file(work):
    """backup.sqlite3, taken as the README's previous block takes it."""
    taken = subprocess.run([EDGEKV_BIN, "kv", "snapshot", "backup.sqlite3"], cwd=work, env=clean_env(),
                           capture_output=True, text=True, timeout=60)
    assert taken.returncode == 0, taken.stderr


# ---- what a block must show once it serves --------------------------------------------------------


def greets(url):
    """`curl http://127.0.0.1:8787/` after `edgekv dev`: the template's greeting, first visit."""
    body = requests.get(f"{url}/", timeout=30).text
    assert body.strip() == "Hello from hello! (visit 1)", body


def ready(url):
    r = requests.get(f"{url}/_edgekv/readyz", timeout=30)
    assert r.status_code == 200, r.text


@dataclass
class Run:
    """How a block runs. `server`: a server this test starts first in the block's folder (its data
    dir `.edgekv/`), with `edgekv.toml` when "config"; `files`: what the folder holds besides
    app.wasm; `serves`: the block ends by serving in the foreground, and `check(url)` is what it must
    serve then."""

    server: str | None = None
    files: tuple = ()
    serves: bool = False
    check: object = None
    timeout: int = 120


DEV = Run(serves=True, check=greets, timeout=BUILD_TIMEOUT)

RUN = {
    "edgekv new --lang rust hello && cd hello && edgekv dev": DEV,
    "edgekv new --lang js hello && cd hello && edgekv dev": DEV,
    "edgekv new --lang python hello && cd hello && edgekv dev": DEV,
    "edgekv new --lang c hello && cd hello && edgekv dev": DEV,
    # In a folder where no server has run yet, as the README's data examples come first.
    "edgekv kv namespace create my-kv --profile telnyx --no-ttl": Run(files=(seed_json,)),
    # Starts its own server in the background.
    "edgekv serve app.wasm --clock manual --start-time 2030-01-01T00:00:00Z &": Run(),
    """curl -H "Authorization: Bearer $T" -d '{"name": "clean"}' http://127.0.0.1:8787/_edgekv/api/snapshots""":
        Run(server="app"),
    "edgekv kv restore backup.sqlite3": Run(files=(snapshot_file,)),
    "edgekv kv --config edgekv.toml namespace reset users --reseed": Run(server="config", files=(users_config,)),
    "export AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1":
        Run(server="app", timeout=300),
    "curl -fsS http://127.0.0.1:8787/_edgekv/readyz": Run(server="app"),
    "edgekv serve app.wasm --tls-cert server.pem --tls-key server.key &": Run(files=(certificates,)),
    "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 edgekv serve app.wasm": Run(serves=True, check=ready),
}

EXEMPT = {
    "rustup target add wasm32-wasip2 && guest-examples/build.sh rust-kv-api && cargo run --release -p edgekv -- serve target/guests/rust-kv-api.wasm":
        "the quick start builds edgekv and the guests in this checkout, as CI does before any test runs",
    "tests/run.sh": "runs the whole test suite, this test included",
    "cargo bench -p edgekv-store": "the benchmarks: minutes each, and they report figures rather than pass or fail",
    "createdb edgekv":
        "needs a team's PostgreSQL server and two machines (db.internal, both nodes on 0.0.0.0:8787); "
        "tests/test_several_nodes.py runs two nodes on one database",
}


# ---- running a block ------------------------------------------------------------------------------


def clean_env():
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_BACKTRACE", "CARGO_TARGET_DIR")}
    env.update(CREDENTIALS_ENV)
    env.setdefault("EDGEKV_GUEST_TOOLS", str(REPO / "target" / "guest-tools"))
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shell_bin(directory):
    """A folder for PATH with `edgekv`, and a curl that fails on an HTTP error status."""
    directory.mkdir()
    (directory / "edgekv").symlink_to(EDGEKV_BIN)
    curl = directory / "curl"
    curl.write_text(
        "#!/bin/sh\n"
        "for a in \"$@\"; do case \"$a\" in --fail|--fail-with-body|-f*|-[!-]*f*) exec {real} \"$@\";; esac; done\n"
        "exec {real} --fail-with-body \"$@\"\n".format(real=shutil.which("curl"))
    )
    curl.chmod(0o755)
    return directory


def stop_group(pid):
    """Stops the block's shell and everything it left running (its servers)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def wait_until_served(log, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = LISTENING.search(log.read_text())
        if m:
            return m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"it did not serve within {timeout}s")


@pytest.mark.parametrize("line,key,text", blocks(), ids=[f"line-{b[0]}" for b in blocks()])
def test_readme_block_runs_as_written(tmp_path, line, key, text):
    if key in EXEMPT:
        assert key not in RUN
        pytest.skip(f"README line {line}: {EXEMPT[key]}")
    assert key in RUN, (
        f"README line {line}: a ```sh block this test neither runs nor exempts; name it in RUN or "
        f"EXEMPT of tests/test_readme.py:\n{text}"
    )
    spec = RUN[key]
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.wasm").symlink_to(guest("rust-kv-api"))
    for make in spec.files:
        make(work)
    env = clean_env()
    server = None
    if spec.server:
        what = ["--config", str(work / "edgekv.toml")] if spec.server == "config" else [str(work / "app.wasm")]
        server = Server(work / ".edgekv", what, env)
    port = server.port if server else free_port()
    env.update({
        "PATH": f"{shell_bin(tmp_path / 'bin')}:{Path(sys.executable).parent}:{env['PATH']}",
        "T": API_TOKEN, "KEY_ID": AWS_KEY_ID, "SECRET": AWS_SECRET,
        "EDGEKV_LISTEN": f"127.0.0.1:{port}", "EDGEKV_SERVER": f"http://127.0.0.1:{port}",
    })
    script = text.replace(DEFAULT, f"127.0.0.1:{port}")
    log = tmp_path / "block.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        what = f"README line {line}, run as:\n{script}"
        if spec.serves:
            try:
                url = wait_until_served(log, proc, spec.timeout)
                spec.check(url)
            except AssertionError as e:
                raise AssertionError(f"{what}\n{e}\n--- its output:\n{log.read_text()}") from None
        else:
            try:
                status = proc.wait(timeout=spec.timeout)
            except subprocess.TimeoutExpired:
                status = f"still running after {spec.timeout}s"
            assert status == 0, f"{what}\nfailed ({status}); its output:\n{log.read_text()}"
    finally:
        stop_group(proc.pid)
        if server:
            server.close()


def test_every_listed_block_is_in_the_readme():
    """RUN and EXEMPT name only blocks the README has (an edited block must be listed again)."""
    keys = {key for _, key, _ in blocks()}
    assert set(RUN) - keys == set()
    assert set(EXEMPT) - keys == set()


def test_edgekv_listen_names_the_address_serve_and_dev_use(tmp_path):
    """EDGEKV_LISTEN, which the blocks above rely on for `edgekv serve` and `edgekv dev`."""
    port = free_port()
    env = {**clean_env(), "EDGEKV_LISTEN": f"127.0.0.1:{port}"}
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([EDGEKV_BIN, "serve", str(guest("rust-kv-api")), "--data-dir", str(tmp_path / "data")],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_until_served(log, proc, 60) == f"http://127.0.0.1:{port}"
    finally:
        stop_group(proc.pid)
    helped = subprocess.run([EDGEKV_BIN, "dev", "--help"], capture_output=True, text=True, timeout=30)
    assert "EDGEKV_LISTEN" in helped.stdout
