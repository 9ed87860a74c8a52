"""The README's CloudFront KeyValueStore recipes, run as written against a real edgekv: the JavaScript
AWS SDK v3 (tests/node/cloudfront_kvs_sdk.mjs: `endpoint: http://localhost:PORT` and an agent that
resolves `*.localhost` to loopback, signed with the pure-JS SigV4A signer) and the AWS CLI from this
venv (awscrt installed, `AWS_ENDPOINT_URL` and `HTTP_PROXY` pointed at edgekv). The README's own
JavaScript snippet and AWS CLI commands are also taken from README.md and run as they are printed
there, with only the port and the credentials filled in."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import AWS_ACCOUNT_ID, AWS_KEY_ID, AWS_SECRET

NODE_DIR = Path(__file__).parent / "node"
AWS_CLI = Path(sys.executable).parent / "aws"
ARN_PREFIX = f"arn:aws:cloudfront::{AWS_ACCOUNT_ID}:key-value-store/"
README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(lang, containing):
    """The one fenced `lang` code block of the README that contains `containing`."""
    blocks = [b for b in re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(), re.S | re.M) if containing in b]
    assert len(blocks) == 1, f"one {lang} block with {containing!r} in README.md, found {len(blocks)}"
    return blocks[0]


def json_documents(text):
    """Every JSON document printed one after another (the AWS CLI's output of several commands)."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)
    return docs


@pytest.fixture
def server(edgekv):
    return edgekv()


def clean_env(tmp_path):
    """This process's environment without any AWS or proxy setting of the machine's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    none = str(tmp_path / "none")
    # NODE_NO_WARNINGS: the SDK warns at length that its releases after 2026 need Node 22.
    return {**env, "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "NODE_NO_WARNINGS": "1"}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_sdk_v3_recipe(server, tmp_path):
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-cloudfront-keyvaluestore").is_dir():
        pytest.fail("run `npm ci` in tests/node (tests/run.sh does)")
    session = boto3.session.Session(aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET, region_name="us-east-1")
    control = session.client("cloudfront", endpoint_url=server.url, config=Config(retries={"max_attempts": 1}))
    arn = control.create_key_value_store(Name="js-sdk")["KeyValueStore"]["ARN"]
    env = {**clean_env(tmp_path), "AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET}
    done = subprocess.run(
        ["node", "cloudfront_kvs_sdk.mjs", f"http://localhost:{server.port}", arn],
        cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    described = out["describe"]
    assert (described["KvsARN"], described["ItemCount"], described["Status"]) == (arn, 0, "READY")
    value = "hello from v3"
    assert out["put"]["ItemCount"] == 1 and out["put"]["ETag"] != described["ETag"]
    assert out["put"]["TotalSizeInBytes"] == len("greeting") + len(value)
    assert out["stalePut"] == "ConflictException"
    assert (out["get"]["Key"], out["get"]["Value"], out["get"]["ItemCount"]) == ("greeting", value, 2)
    assert out["list"]["Items"] == [{"Key": "greeting", "Value": value}, {"Key": "other", "Value": "2"}]
    assert out["delete"]["ItemCount"] == 1 and out["missing"] == "ResourceNotFoundException"
    assert (out["after"]["ETag"], out["after"]["ItemCount"]) == (out["delete"]["ETag"], 1)
    assert out["algorithms"] == ["AWS4-ECDSA-P256-SHA256"]  # SigV4A, as the real service requires


def aws_cli(server, tmp_path, *args, secret=AWS_SECRET):
    """Runs `aws ARGS...` set up as the README's recipe says; (exit code, parsed JSON or stderr)."""
    env = {
        **clean_env(tmp_path),
        "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.url,
        "HTTP_PROXY": server.url,
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = subprocess.run([str(AWS_CLI), *args], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return done.returncode, done.stderr
    return 0, json.loads(done.stdout) if done.stdout.strip() else None


def test_aws_cli_recipe(server, tmp_path):
    if not AWS_CLI.is_file():
        pytest.fail(f"the AWS CLI is not installed in this venv: pip install -r tests/requirements.txt ({AWS_CLI})")

    def kvs(*args, **kw):
        return aws_cli(server, tmp_path, "cloudfront-keyvaluestore", *args, **kw)

    rc, created = aws_cli(server, tmp_path, "cloudfront", "create-key-value-store", "--name", "cli-store")
    assert rc == 0, created
    arn = created["KeyValueStore"]["ARN"]
    assert arn.startswith(ARN_PREFIX) and created["KeyValueStore"]["Status"] == "READY"

    rc, described = kvs("describe-key-value-store", "--kvs-arn", arn)
    assert rc == 0, described
    assert (described["KvsARN"], described["ItemCount"], described["TotalSizeInBytes"]) == (arn, 0, 0)
    rc, put = kvs("put-key", "--kvs-arn", arn, "--key", "greeting", "--value", "hello", "--if-match", described["ETag"])
    assert rc == 0, put
    assert (put["ItemCount"], put["TotalSizeInBytes"]) == (1, len("greeting") + len("hello"))
    rc, stale = kvs("put-key", "--kvs-arn", arn, "--key", "greeting", "--value", "x", "--if-match", described["ETag"])
    assert rc != 0 and "ConflictException" in stale
    rc, got = kvs("get-key", "--kvs-arn", arn, "--key", "greeting")
    assert rc == 0 and (got["Key"], got["Value"], got["ItemCount"]) == ("greeting", "hello", 1), got
    rc, listed = kvs("list-keys", "--kvs-arn", arn)
    assert rc == 0 and listed["Items"] == [{"Key": "greeting", "Value": "hello"}], listed
    rc, deleted = kvs("delete-key", "--kvs-arn", arn, "--key", "greeting", "--if-match", put["ETag"])
    assert rc == 0 and deleted["ItemCount"] == 0 and deleted["ETag"] != put["ETag"], deleted
    rc, missing = kvs("get-key", "--kvs-arn", arn, "--key", "greeting")
    assert rc != 0 and "ResourceNotFoundException" in missing

    rc, denied = kvs("describe-key-value-store", "--kvs-arn", arn, secret="not-the-secret")
    assert rc != 0 and "AccessDeniedException" in denied


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_readmes_javascript_snippet_runs_as_written(server, tmp_path):
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-cloudfront-keyvaluestore").is_dir():
        pytest.fail("run `npm ci` in tests/node (tests/run.sh does)")
    session = boto3.session.Session(aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET, region_name="us-east-1")
    control = session.client("cloudfront", endpoint_url=server.url, config=Config(retries={"max_attempts": 1}))
    arn = control.create_key_value_store(Name="readme-js")["KeyValueStore"]["ARN"]
    snippet = readme_block("js", "CloudFrontKeyValueStoreClient").replace("8787", str(server.port))
    script = tmp_path / "snippet.mjs"
    script.write_text(
        snippet.replace('import http from "node:http";\n', 'import http from "node:http";\n'
                        f"const KEY_ID = {json.dumps(AWS_KEY_ID)}, SECRET = {json.dumps(AWS_SECRET)}, arn = {json.dumps(arn)};\n")
        + "console.log(JSON.stringify({ ETag, Value }));\n"
    )
    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules")
    done = subprocess.run(["node", str(script)], cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["Value"] == "hello" and out["ETag"]


def test_the_readmes_aws_cli_commands_run_as_written(server, tmp_path):
    if not AWS_CLI.is_file():
        pytest.fail(f"the AWS CLI is not installed in this venv: pip install -r tests/requirements.txt ({AWS_CLI})")
    commands = readme_block("sh", "aws cloudfront-keyvaluestore").replace("8787", str(server.port))
    env = {**clean_env(tmp_path), "KEY_ID": AWS_KEY_ID, "SECRET": AWS_SECRET, "PATH": f"{AWS_CLI.parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got, listed, deleted = json_documents(done.stdout)
    assert (got["Key"], got["Value"], got["ItemCount"]) == ("greeting", "hello", 1)
    assert listed["Items"] == [{"Key": "greeting", "Value": "hello"}]
    assert deleted["ItemCount"] == 0 and deleted["TotalSizeInBytes"] == 0
