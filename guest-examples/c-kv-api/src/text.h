// Bytes and text helpers for c-kv-api: a growable byte buffer, UTF-8 checks, percent-decoding,
// JSON strings and number parsing with the same rules as the Rust example (rust-kv-api).
#ifndef C_KV_API_TEXT_H
#define C_KV_API_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// A view of bytes owned by someone else.
typedef struct {
    const uint8_t *ptr;
    size_t len;
} slice_t;

slice_t slice_cstr(const char *s);
bool slice_eq_cstr(slice_t s, const char *text);
bool slice_eq_ignore_ascii_case(slice_t s, const char *text);

// A growable byte buffer. An allocation failure sets `failed`, after which every append is a no-op:
// check `failed` once after building.
typedef struct {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    bool failed;
} buf_t;

bool buf_reserve(buf_t *b, size_t extra);
void buf_put(buf_t *b, const void *bytes, size_t len);
void buf_str(buf_t *b, const char *s);
void buf_u64(buf_t *b, uint64_t value);
// `s` as a JSON string literal: `"` and `\` escaped, control characters as \u00xx.
void buf_json_string(buf_t *b, slice_t s);
void buf_free(buf_t *b);

// Whether the bytes are valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool utf8_valid(slice_t s);

typedef enum { DECODE_OK, DECODE_NOT_UTF8, DECODE_NO_MEMORY } decode_t;

// Percent-decodes once into `out` (which it resets): `%XX` with two hex digits becomes that byte;
// any other `%` stays as it is; `+` stays `+`. The result must be UTF-8.
decode_t percent_decode(slice_t in, buf_t *out);

// Rust's `str::trim`: strips Unicode White_Space from both ends. `s` must be UTF-8.
slice_t trim_unicode(slice_t s);

// Rust's `str::parse::<u64>()` / `::<u32>()` for unsigned integers: an optional `+`, then one or
// more ASCII digits, no overflow past `max`.
bool parse_unsigned(slice_t s, uint64_t max, uint64_t *out);

#endif
