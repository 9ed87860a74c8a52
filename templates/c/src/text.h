// Bytes and text helpers for c-kv-api: a growable byte buffer, UTF-8 checks, percent-decoding,
// JSON strings and number parsing with the same rules as the Rust example (rust-kv-api).
#ifndef C_KV_API_TEXT_H
#define C_KV_API_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Every allocation is checked. One that fails means the guest reached its memory limit: it traps
// (abort), as wit-bindgen's cabi_realloc does and as Rust's allocator does in rust-kv-api, and the
// host answers 503 "the guest exhausted its memory limit".
void *checked_realloc(void *ptr, size_t size);

// A view of bytes owned by someone else.
typedef struct {
    const uint8_t *ptr;
    size_t len;
} slice_t;

slice_t slice_cstr(const char *s);
bool slice_eq_cstr(slice_t s, const char *text);
bool slice_eq_ignore_ascii_case(slice_t s, const char *text);

// A growable byte buffer.
typedef struct {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} buf_t;

// Makes room for `extra` more bytes.
void buf_reserve(buf_t *b, size_t extra);
void buf_put(buf_t *b, const void *bytes, size_t len);
void buf_str(buf_t *b, const char *s);
void buf_u64(buf_t *b, uint64_t value);
// `s` as a JSON string literal: `"` and `\` escaped, control characters as \u00xx.
void buf_json_string(buf_t *b, slice_t s);
void buf_free(buf_t *b);

// Whether the bytes are valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool utf8_valid(slice_t s);

// Percent-decodes once into `out` (which it resets): `%XX` with two hex digits becomes that byte;
// any other `%` stays as it is; `+` stays `+`. False if the result is not UTF-8.
bool percent_decode(slice_t in, buf_t *out);

// Rust's `str::trim`: strips Unicode White_Space from both ends. `s` must be UTF-8.
slice_t trim_unicode(slice_t s);

// Rust's `str::parse::<u64>()` / `::<u32>()` for unsigned integers: an optional `+`, then one or
// more ASCII digits, no overflow past `max`.
bool parse_unsigned(slice_t s, uint64_t max, uint64_t *out);

#endif
