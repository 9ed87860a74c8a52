"""edgekv: the edgekv KV binding (`edgekv:kv/store`) for Python guests built with componentize-py.

It wraps the bindings componentize-py generates for a world that imports `edgekv:kv/store` (such as
`edgekv:kv/edge-app`) and hides them: a guest sees `Namespace`, plain values and dataclasses, and
exceptions. The shape follows the Workers KV binding in Python's idiom::

    import edgekv

    ns = edgekv.Namespace.open("default")          # the binding name granted in edgekv.toml
    ns.put("user:1", '{"name": "Ada"}', expiration_ttl=3600, metadata={"v": 1})
    user = ns.get("user:1", type="json")           # {'name': 'Ada'}, or None if absent
    page = ns.list(prefix="user:")                 # ListResult(keys=[...], list_complete=True, cursor=None)

The namespace's profile (cloudflare, cloudfront or telnyx) decides the rules; a write that breaks one
raises the `KVError` subclass that names it (`InvalidExpiration` for a TTL under 60 s on a
cloudflare namespace, ...) and writes nothing. Copy this file next to your app (componentize-py
takes it from the source path) and build for a world that imports `edgekv:kv/store`.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Union

from componentize_py_types import Err
from wit_world.imports import store as _store

__all__ = [
    "Namespace", "Entry", "Key", "ListResult", "PutResult", "ValueWithMetadata",
    "KVError", "NoSuchStore", "AccessDenied", "InvalidKey", "ValueTooLarge", "MetadataTooLarge",
    "InvalidExpiration", "QuotaExceeded", "Conflict", "OtherError",
]


# ---- errors ----


class KVError(Exception):
    """A failed KV operation. `code` is the edgekv:kv error variant (`value-too-large`, ...) and
    `reason` the store's message, which names the rule, its limit and the size seen (None for
    `no-such-store` and `access-denied`)."""

    code = "other"

    def __init__(self, reason: Optional[str] = None):
        super().__init__(reason or self.code)
        self.reason = reason


class NoSuchStore(KVError):
    """The binding is granted to this app but no namespace is configured behind it."""

    code = "no-such-store"


class AccessDenied(KVError):
    """The app was not granted this binding."""

    code = "access-denied"


class InvalidKey(KVError):
    """The key breaks the profile's key rules (empty, too long, bad characters, reserved)."""

    code = "invalid-key"


class ValueTooLarge(KVError):
    """The value is larger than the profile allows."""

    code = "value-too-large"


class MetadataTooLarge(KVError):
    """The metadata is larger than the profile allows, or the profile keeps no metadata."""

    code = "metadata-too-large"


class InvalidExpiration(KVError):
    """The expiry is not allowed: too soon, too far, or the namespace keeps no expiry."""

    code = "invalid-expiration"


class QuotaExceeded(KVError):
    """The write would exceed a quota of the namespace (total size, batch bounds)."""

    code = "quota-exceeded"


class Conflict(KVError):
    """A precondition failed and nothing was written. `current_etag` is the entry's ETag, or None
    when the key does not exist."""

    code = "conflict"

    def __init__(self, current_etag: Optional[str]):
        super().__init__(None)
        self.current_etag = current_etag


class OtherError(KVError):
    """Anything else (invalid metadata JSON, a bad cursor or limit, a storage failure)."""

    code = "other"


_ERRORS = {
    _store.Error_NoSuchStore: NoSuchStore,
    _store.Error_AccessDenied: AccessDenied,
    _store.Error_InvalidKey: InvalidKey,
    _store.Error_ValueTooLarge: ValueTooLarge,
    _store.Error_MetadataTooLarge: MetadataTooLarge,
    _store.Error_InvalidExpiration: InvalidExpiration,
    _store.Error_QuotaExceeded: QuotaExceeded,
    _store.Error_Other: OtherError,
}


def _error(e: Err) -> KVError:
    variant = e.value
    if isinstance(variant, _store.Error_Conflict):
        return Conflict(variant.value)
    cls = _ERRORS.get(type(variant), OtherError)
    return cls(getattr(variant, "value", None))


# ---- values ----


@dataclass
class Entry:
    """A live entry with everything the store keeps about it."""

    value: bytes
    #: The metadata as a Python value (parsed JSON), or None.
    metadata: Any
    #: The metadata as the stored (compact) JSON text, or None.
    metadata_json: Optional[str]
    content_type: Optional[str]
    #: When the entry expires, in unix milliseconds, or None.
    expires_at_ms: Optional[int]
    #: Changes on every write of the key and is never reused: pass it to `put(if_match=...)`.
    etag: str


@dataclass
class ValueWithMetadata:
    """What `get_with_metadata` returns: the value (read as asked) and the parsed metadata."""

    value: Any
    metadata: Any


@dataclass
class PutResult:
    """What a successful put did."""

    etag: str
    #: True if the key did not exist before.
    created: bool


@dataclass
class Key:
    """One key of a listing."""

    name: str
    #: When the entry expires, in whole unix seconds (as Workers reports it), or None.
    expiration: Optional[int] = None
    metadata: Any = None
    expires_at_ms: Optional[int] = None
    metadata_json: Optional[str] = None
    #: The size of the value in bytes.
    size: int = 0


@dataclass
class ListResult:
    """One page of keys in UTF-8 byte order. `cursor` (pass it back to `list`) is None exactly when
    `list_complete` is true."""

    keys: list = field(default_factory=list)
    list_complete: bool = True
    cursor: Optional[str] = None


_TYPES = ("text", "json", "bytes")


def _decode(value: bytes, type: str) -> Any:
    if type == "bytes":
        return value
    text = value.decode("utf-8", errors="replace")
    return json.loads(text) if type == "json" else text


def _parse(metadata_json: Optional[str]) -> Any:
    return None if metadata_json is None else json.loads(metadata_json)


# ---- the namespace ----


class Namespace:
    """An open namespace: the one granted to this app under a binding name."""

    def __init__(self, handle: "_store.Namespace"):
        self._ns = handle

    @classmethod
    def open(cls, binding: str = "default") -> "Namespace":
        """Opens the namespace granted to this app under `binding`. Raises `AccessDenied` when the
        app was not granted it, `NoSuchStore` when no namespace is configured behind it."""
        try:
            return cls(_store.Namespace.open(binding))
        except Err as e:
            raise _error(e) from None

    def close(self) -> None:
        """Releases the namespace handle (also done by `with Namespace.open(...) as ns:`)."""
        self._ns.__exit__(None, None, None)

    def __enter__(self) -> "Namespace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, key: str, type: str = "text") -> Any:
        """The value at `key` read as `type` ("text", "json" or "bytes"), or None if absent."""
        entry = self.get_entry(key, _check=type)
        return None if entry is None else _decode(entry.value, type)

    def get_with_metadata(self, key: str, type: str = "text") -> ValueWithMetadata:
        """The value (as in `get`) and the parsed metadata of `key`; both None if absent."""
        entry = self.get_entry(key, _check=type)
        if entry is None:
            return ValueWithMetadata(None, None)
        return ValueWithMetadata(_decode(entry.value, type), entry.metadata)

    def get_entry(self, key: str, _check: str = "bytes") -> Optional[Entry]:
        """The live entry at `key` with its metadata, content type, expiry and ETag, or None."""
        if _check not in _TYPES:
            raise ValueError(f"type must be one of {', '.join(_TYPES)}, not {_check!r}")
        try:
            e = self._ns.get(key)
        except Err as err:
            raise _error(err) from None
        if e is None:
            return None
        return Entry(e.value, _parse(e.metadata), e.metadata, e.content_type, e.expires_at_ms, e.etag)

    def put(
        self,
        key: str,
        value: Union[str, bytes, bytearray, memoryview],
        *,
        expiration: Optional[int] = None,
        expiration_ttl: Optional[int] = None,
        metadata: Any = None,
        metadata_json: Optional[str] = None,
        content_type: Optional[str] = None,
        if_match: Optional[str] = None,
        if_absent: bool = False,
    ) -> PutResult:
        """Writes `value` (text is stored as UTF-8) at `key`.

        `expiration_ttl` (seconds from now) or `expiration` (unix seconds) sets the expiry (the TTL
        wins when both are given); `metadata` (any JSON-serialisable value) or `metadata_json` (JSON
        text, checked by the store) the metadata. `if_match=etag` writes only over that version
        (compare-and-swap), `if_absent=True` only if the key does not exist; else `Conflict`."""
        data = value.encode() if isinstance(value, str) else bytes(value)
        if metadata_json is None and metadata is not None:
            metadata_json = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
        expiry = None
        if expiration_ttl is not None:
            expiry = _store.Expiration_TtlSeconds(int(expiration_ttl))
        elif expiration is not None:
            expiry = _store.Expiration_AtUnixSeconds(int(expiration))
        precondition = None
        if if_match is not None:
            precondition = _store.Precondition_IfMatch(if_match)
        elif if_absent:
            precondition = _store.Precondition_IfAbsent()
        options = _store.PutOptions(metadata_json, content_type, expiry, precondition)
        try:
            done = self._ns.put(key, data, options)
        except Err as e:
            raise _error(e) from None
        except OverflowError:
            raise InvalidExpiration(f"expiration out of range: {expiration_ttl or expiration}") from None
        return PutResult(done.etag, done.created)

    def delete(self, key: str, *, if_match: Optional[str] = None) -> bool:
        """Deletes `key`; returns whether a live entry was there. With `if_match`, only if the
        entry's ETag is that one (else `Conflict`)."""
        try:
            return self._ns.delete(key, if_match)
        except Err as e:
            raise _error(e) from None

    def list(self, prefix: str = "", cursor: Optional[str] = None, limit: Optional[int] = None) -> ListResult:
        """One page of keys starting with `prefix`, after `cursor` (from the previous page), at
        most `limit` keys (the profile sets the default and bounds: 1..1000 for cloudflare)."""
        try:
            page = self._ns.list(prefix, cursor, limit)
        except Err as e:
            raise _error(e) from None
        keys = [
            Key(
                name=k.name,
                expiration=None if k.expires_at_ms is None else k.expires_at_ms // 1000,
                metadata=_parse(k.metadata),
                expires_at_ms=k.expires_at_ms,
                metadata_json=k.metadata,
                size=k.size,
            )
            for k in page.keys
        ]
        return ListResult(keys, page.cursor is None, page.cursor)

    def keys(self, prefix: str = "", limit: Optional[int] = None) -> Iterator[Key]:
        """Every key starting with `prefix`, page after page (`limit` keys per page)."""
        cursor = None
        while True:
            page = self.list(prefix, cursor, limit)
            yield from page.keys
            if page.list_complete:
                return
            cursor = page.cursor
