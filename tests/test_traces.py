"""OpenTelemetry traces against the real server: an OTLP/HTTP receiver in the test (decoding what
edgekv sends with the `opentelemetry-proto` package) gets one trace per request, with the client's
trace id when it sent a `traceparent`, whose spans form one tree: server span -> guest call -> KV
operation -> store.commit. A guest's outgoing request carries the trace context on. Without an
OTLP endpoint configured, nothing is ever sent."""

import os
import re
import secrets
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from conftest import CREDENTIALS_ENV, EDGEKV_BIN, guest


class Receiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1: keeps every span it is sent (with its resource's
    attributes), every request it gets, and the headers of anything else (a guest's fetch)."""

    def __init__(self, port=0):
        self.spans = []
        self.requests = 0
        self.fetches = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.requests += 1
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/traces" and self.headers.get("content-type") == "application/x-protobuf":
                    export = ExportTraceServiceRequest.FromString(body)
                    for resource_spans in export.resource_spans:
                        resource = attributes(resource_spans.resource.attributes)
                        for scope_spans in resource_spans.scope_spans:
                            for span in scope_spans.spans:
                                receiver.spans.append((resource, span))
                self.reply(ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

            def do_GET(self):
                receiver.requests += 1
                receiver.fetches.append(dict(self.headers))
                self.reply(b"fetched\n", "text/plain")

            def reply(self, body, content_type):
                self.send_response(200)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def trace(self, trace_id, until, timeout=20):
        """The spans of trace `trace_id` (hex), once `until(spans)` holds or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while True:
            spans = [(r, s) for r, s in list(self.spans) if s.trace_id.hex() == trace_id]
            if until(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.05)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def attributes(kvs):
    out = {}
    for kv in kvs:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
    return out


def start(tmp_path, args, env):
    full_env = {**os.environ, **CREDENTIALS_ENV, **env}
    for name in list(full_env):
        if name.startswith("OTEL_") and name not in env:
            del full_env[name]
    cmd = [EDGEKV_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), *args]
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    found = threading.Event()
    url = {}

    def pump():
        for line in proc.stdout:
            lines.append(line)
            m = re.match(r"^edgekv listening on (http://\S+)$", line.strip())
            if m:
                url["main"] = m.group(1)
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(240):
        proc.kill()
        raise RuntimeError("edgekv did not start:\n" + "".join(lines))
    return proc, url["main"], lines


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def by_name(spans):
    named = {}
    for resource, span in spans:
        named.setdefault(span.name, []).append((resource, span))
    return named


def has_commit(spans):
    return any(s.name == "store.commit" for _, s in spans)


def test_a_kv_write_is_one_trace_under_the_clients_traceparent(tmp_path, guests_dir):
    receiver = Receiver()
    proc, url, lines = start(
        tmp_path,
        [str(guest("rust-kv-api"))],
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"},
    )
    try:
        trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
        r = requests.put(
            f"{url}/kv/trace-key-1",
            data=b"trace-value-1",
            headers={"traceparent": f"00-{trace_id}-{client_span}-01", "x-request-id": "traced-1"},
        )
        assert r.status_code in (200, 201, 204), r.text
        spans = receiver.trace(trace_id, has_commit)
        named = by_name(spans)
        assert set(named) >= {"PUT app", "guest call", "kv.put", "store.commit"}, list(named)
        [(resource, server)] = named["PUT app"]
        [(_, guest_call)] = named["guest call"]
        [(_, kv_put)] = named["kv.put"]
        [(_, commit)] = named["store.commit"]
        # One tree, hanging from the client's span.
        assert server.parent_span_id.hex() == client_span
        assert guest_call.parent_span_id == server.span_id
        assert kv_put.parent_span_id == guest_call.span_id
        assert commit.parent_span_id == kv_put.span_id
        assert all(s.trace_id.hex() == trace_id for _, s in spans)
        # The server span's attributes, by the HTTP semantic conventions.
        assert server.kind == server.SPAN_KIND_SERVER
        attrs = attributes(server.attributes)
        assert attrs["http.request.method"] == "PUT"
        assert attrs["url.path"] == "/kv/trace-key-1"
        assert attrs["http.response.status_code"] == r.status_code
        assert attrs["edgekv.route_kind"] == "app" and attrs["edgekv.app"] == "/"
        assert attrs["edgekv.request_id"] == "traced-1"
        assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == int(url.rsplit(":", 1)[1])
        assert attrs["user_agent.original"].startswith("python-requests/")
        assert resource["service.name"] == "edgekv"
        # The KV span names the operation, binding and outcome, never the key or the value.
        kv = attributes(kv_put.attributes)
        assert kv["kv.operation"] == "kv.put" and kv["kv.binding"] == "default" and kv["kv.outcome"] == "ok"
        assert attributes(commit.attributes)["edgekv.commit.group_size"] >= 1
        for span in (guest_call, kv_put, commit):
            for value in attributes(span.attributes).values():
                assert "trace-key-1" not in str(value) and "trace-value-1" not in str(value)

        # A request without traceparent starts a trace of its own.
        r = requests.get(f"{url}/kv/trace-key-1", headers={"x-request-id": "untraced-1"})
        assert r.status_code == 200

        def fresh_server_span():
            return [
                s for _, s in list(receiver.spans)
                if s.name == "GET app" and attributes(s.attributes).get("edgekv.request_id") == "untraced-1"
            ]

        deadline = time.monotonic() + 20
        while not fresh_server_span() and time.monotonic() < deadline:
            time.sleep(0.05)
        [fresh] = fresh_server_span()
        assert fresh.trace_id.hex() != trace_id and fresh.parent_span_id == b""
        reads = receiver.trace(fresh.trace_id.hex(), lambda s: any(x.name == "kv.get" for _, x in s))
        [(_, kv_get)] = by_name(reads)["kv.get"]
        assert attributes(kv_get.attributes)["kv.outcome"] == "ok"
    finally:
        stop(proc)
        receiver.close()


def test_a_guests_outgoing_request_carries_the_trace_on(tmp_path, guests_dir):
    receiver = Receiver()
    proc, url, lines = start(
        tmp_path,
        [str(guest("misbehave"))],
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.url}/v1/traces", "OTEL_BSP_SCHEDULE_DELAY": "100"},
    )
    try:
        trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
        r = requests.get(
            f"{url}/fetch",
            headers={
                "traceparent": f"00-{trace_id}-{client_span}-01",
                "tracestate": "vendor=value",
                "x-target": f"{receiver.url}/upstream",
            },
        )
        assert r.status_code == 200, r.text
        [fetch] = receiver.fetches
        headers = {k.lower(): v for k, v in fetch.items()}
        version, fetched_trace, parent, flags = headers["traceparent"].split("-")
        assert fetched_trace == trace_id and parent != client_span
        assert headers.get("tracestate") == "vendor=value"
        spans = receiver.trace(trace_id, lambda s: any(x.name == "guest call" for _, x in s))
        [(_, guest_call)] = by_name(spans)["guest call"]
        assert guest_call.span_id.hex() == parent
    finally:
        stop(proc)
        receiver.close()


def test_without_an_endpoint_nothing_is_sent(tmp_path, guests_dir):
    # The receiver listens on OTLP/HTTP's default endpoint (localhost:4318), where an exporter set
    # up without an endpoint variable would send.
    try:
        receiver = Receiver(port=4318)
    except OSError:
        pytest.skip("port 4318 (OTLP/HTTP's default) is taken on this machine")
    proc, url, lines = start(
        tmp_path,
        [str(guest("rust-kv-api"))],
        {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_EXPORTER_OTLP_HEADERS": "x=y", "OTEL_SERVICE_NAME": "edgekv-test"},
    )
    try:
        trace_id = secrets.token_hex(16)
        for i in range(5):
            r = requests.put(
                f"{url}/kv/k{i}", data=b"v", headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
            )
            assert r.status_code in (200, 201, 204)
            # Nor is the client's trace context passed on in the response.
            assert "traceparent" not in r.headers
    finally:
        stop(proc)
    assert receiver.requests == 0 and receiver.spans == []
    receiver.close()
