"""A test suite for an edge function that keeps users and sessions in KV (here rust-kv-api, which
serves the `default` binding at /kv/{key}). No test sleeps, and none sees another's data."""

import uuid

import requests


def test_a_session_expires_after_its_ttl(kv):
    assert requests.put(f"{kv.url}/kv/session/abc", data="ada", headers={"x-ttl": "60"}).status_code == 201
    assert requests.get(f"{kv.url}/kv/session/abc").text == "ada"
    kv.advance("61s")  # a minute passes at once
    assert requests.get(f"{kv.url}/kv/session/abc").status_code == 404


def test_the_seeded_users_are_there(kv):
    ada = requests.get(f"{kv.url}/kv/user/1")
    assert ada.text == "Ada" and ada.headers["x-metadata"] == '{"role":"admin"}'
    assert requests.delete(f"{kv.url}/kv/user/1").json() == {"deleted": True}


def test_each_test_starts_from_the_snapshot(kv):
    # The test before deleted user/1; the restore after it brought it back.
    assert requests.get(f"{kv.url}/kv/user/1").text == "Ada"


def test_a_fork_is_a_private_copy_of_the_fixture(kv):
    fork = kv.fork("users", f"users-{uuid.uuid4().hex[:8]}")
    value = f"{kv.url}/_edgekv/api/namespaces/{fork['id']}/values/user/1"
    etag = kv.admin.get(value).json()["etag"]
    edit = kv.admin.put(value, headers={"if-match": etag}, json={"value": "Ada Lovelace"})
    assert edit.status_code == 200
    assert kv.admin.get(value).json()["text"] == "Ada Lovelace"
    assert requests.get(f"{kv.url}/kv/user/1").text == "Ada"  # the fixture itself is untouched
