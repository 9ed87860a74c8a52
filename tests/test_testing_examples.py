"""The README's "Testing with edgekv" worked examples (examples/testing/), run as a reader would:
the pytest suite with pytest, the node:test suite with `node --test`, each against the edgekv under
test and the rust-kv-api guest built from source."""

import os
import subprocess
import sys

import pytest

from conftest import EDGEKV_BIN, REPO, guest

EXAMPLES = REPO / "examples" / "testing"

# The examples start their own server on the data dir's SQLite store.
pytestmark = pytest.mark.sqlite_only("the worked examples run edgekv on its default store")


def run(cmd, tmp_path):
    env = {**os.environ, "EDGEKV_BIN": EDGEKV_BIN, "EDGEKV_APP": str(guest("rust-kv-api"))}
    env.pop("EDGEKV_API_TOKEN", None)
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    return done, done.stdout + done.stderr


def test_the_pytest_example_passes(tmp_path):
    done, output = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "python")], tmp_path)
    assert done.returncode == 0, output
    assert "4 passed" in output, output


def test_the_node_test_example_passes(tmp_path):
    done, output = run(["node", "--test", str(EXAMPLES / "js" / "users.test.mjs")], tmp_path)
    assert done.returncode == 0, output
    assert "# pass 4" in output and "# fail 0" in output, output
