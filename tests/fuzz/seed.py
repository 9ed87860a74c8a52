#!/usr/bin/env python3
"""Seed corpora for the fuzz targets in tests/fuzz, taken from the wire logs of real clients
(shared/reference/wire/*.log: the Cloudflare Python SDK and wrangler, boto3 for CloudFront, the Telnyx
SDKs).

    seed.py WIRE_DIR OUT_DIR

writes OUT_DIR/<target>/<sha1 of the input> for the targets route, sigv4, multipart, bulk_json and
key_rules (the same naming libFuzzer uses, so re-running it adds nothing twice). Only the standard
library; the logs are read as they are and nothing is fetched.

What each target gets:
  route      every request target (origin- and absolute-form) of every log
  sigv4      every boto3 request as `METHOD TARGET`, its headers, an empty line and its body
  multipart  every Cloudflare multipart value write, rebuilt byte for byte from its logged parts
             (the rebuilt length is checked against the logged body length), prefixed with the
             chunk-size byte and the Content-Type line the target expects
  bulk_json  every JSON request body (Cloudflare bulk writes, deletes and gets, and the others)
  key_rules  every key, namespace name, metadata text and list cursor the clients sent
"""

import ast
import hashlib
import json
import os
import re
import sys
import urllib.parse


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    wire, out = sys.argv[1], sys.argv[2]
    seeds = {t: set() for t in ("route", "sigv4", "multipart", "bulk_json", "key_rules")}
    logs = sorted(f for f in os.listdir(wire) if f.endswith(".log"))
    if not logs:
        sys.exit(f"seed.py: no *.log in {wire}")
    for name in logs:
        with open(os.path.join(wire, name), "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        if name.startswith("cloudflare"):
            cloudflare(text, seeds)
        elif name.startswith("cloudfront"):
            cloudfront(text, seeds)
        elif name.startswith("telnyx"):
            telnyx(text, seeds)
    for target, inputs in seeds.items():
        directory = os.path.join(out, target)
        os.makedirs(directory, exist_ok=True)
        for data in inputs:
            path = os.path.join(directory, hashlib.sha1(data).hexdigest())
            with open(path, "wb") as f:
                f.write(data)
    print(" ".join(f"{t}={len(i)}" for t, i in seeds.items()))


def enc(s):
    return s.encode("utf-8", "surrogateescape")


def add_target(seeds, target):
    seeds["route"].add(enc(target))
    path, _, query = target.partition("?")
    keys = seeds["key_rules"]
    segments = [urllib.parse.unquote(s, errors="surrogateescape") for s in path.split("/")]
    for marker in ("values", "metadata", "keys"):
        if marker in segments:
            rest = segments[segments.index(marker) + 1 :]
            if rest:
                keys.add(enc("/".join(rest)))
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if k in ("cursor", "NextToken", "prefix"):
            keys.add(enc(v))


def py_bytes(literal):
    """A logged Python bytes literal (b'...'), as bytes."""
    value = ast.literal_eval(literal.strip())
    return value if isinstance(value, bytes) else enc(str(value))


def add_json_body(seeds, body):
    seeds["bulk_json"].add(body)
    try:
        doc = json.loads(body)
    except ValueError:
        return
    keys = seeds["key_rules"]
    items = doc if isinstance(doc, list) else [doc]
    for item in items:
        if isinstance(item, str):
            keys.add(enc(item))
        elif isinstance(item, dict):
            for field in ("key", "Key", "title", "name", "Name"):
                if isinstance(item.get(field), str):
                    keys.add(enc(item[field]))
            if "metadata" in item:
                keys.add(enc(json.dumps(item["metadata"])))
            for k in item.get("keys", []) if isinstance(item.get("keys"), list) else []:
                if isinstance(k, str):
                    keys.add(enc(k))


def cloudflare(text, seeds):
    """The Python SDK / wrangler log: `METHOD target HTTP/1.1`, indented headers, a body that is a
    bytes literal or multipart parts (`part name=... headers={...}` then `data=b'...'`)."""
    for block in re.split(r"\n(?==== #)", text):
        lines = block.split("\n")
        request = next((l for l in lines if re.match(r"^[A-Z]+ \S+ HTTP/1\.1$", l)), None)
        if request is None:
            continue
        add_target(seeds, request.split(" ")[1])
        content_type = next(
            (l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("    content-type:")),
            "",
        )
        body_at = next((i for i, l in enumerate(lines) if l.startswith("  body: ")), None)
        if body_at is None:
            continue
        length = int(lines[body_at].split()[1])
        parts = []
        for i in range(body_at + 1, len(lines)):
            line = lines[i]
            if line.startswith("    part "):
                headers = json.loads(line.split("headers=", 1)[1])
                parts.append([headers, b""])
            elif line.startswith("      data=") and parts:
                parts[-1][1] = py_bytes(line.split("data=", 1)[1])
            elif line.startswith("    b'") or line.startswith('    b"'):
                add_json_body(seeds, py_bytes(line))
            elif not line.startswith("    "):
                break
        if parts and "boundary=" in content_type:
            boundary = content_type.split("boundary=", 1)[1].strip().strip('"')
            body = multipart(boundary, parts)
            if len(body) != length:
                print(f"seed.py: skipped a multipart body rebuilt as {len(body)} bytes, logged {length}",
                      file=sys.stderr)
                continue
            for chunk in (0, 7, 64):
                seeds["multipart"].add(bytes([chunk]) + enc(content_type) + b"\n" + body)
            for headers, data in parts:
                if 'name="metadata"' in headers.get("content-disposition", ""):
                    seeds["key_rules"].add(data)


def multipart(boundary, parts):
    """The body python-httpx and undici send: CRLF lines, headers in logged order."""
    b = enc(boundary)
    out = b""
    for headers, data in parts:
        out += b"--" + b + b"\r\n"
        for name, value in headers.items():
            canonical = "-".join(w.capitalize() for w in name.split("-"))
            out += enc(f"{canonical}: {value}") + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + b"--" + b + b"--\r\n"


def cloudfront(text, seeds):
    """The boto3 logs: `REQUEST LINE:`, `HEADERS (wire order):` lines, `BODY (n bytes): text`."""
    for block in text.split("\n" + "=" * 100 + "\n"):
        lines = block.split("\n")
        request = next((l for l in lines if l.startswith("REQUEST LINE: ")), None)
        if request is None:
            continue
        method, target, _ = request[len("REQUEST LINE: ") :].split(" ")
        add_target(seeds, target)
        headers, body, in_headers = [], b"", False
        for line in lines:
            if line.startswith("HEADERS"):
                in_headers = True
            elif in_headers and line.startswith("  "):
                headers.append(line.strip())
            elif line.startswith("BODY ("):
                in_headers = False
                body = enc(line.split("): ", 1)[1] if "): " in line else "")
        path = urllib.parse.urlsplit(target)
        origin = path.path + ("?" + path.query if path.query else "")
        request_text = enc(f"{method} {origin}\n" + "".join(h + "\n" for h in headers) + "\n") + body
        seeds["sigv4"].add(request_text)
        for h in headers:
            if h.lower().startswith("authorization:"):
                seeds["sigv4"].add(enc("GET /\nAuthorization: " + h.split(":", 1)[1].strip() + "\n\n"))
        if body:
            add_json_body(seeds, body)


def telnyx(text, seeds):
    """The Telnyx log: one JSON object per request, with `raw_target` and a `body_preview`."""
    for line in text.split("\n"):
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record.get("raw_target"), str):
            add_target(seeds, record["raw_target"])
        preview = record.get("body_preview")
        if isinstance(preview, str) and preview and record.get("body_len") == len(enc(preview)):
            add_json_body(seeds, enc(preview))


if __name__ == "__main__":
    main()
