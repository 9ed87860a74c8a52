#include "text.h"

#include <stdlib.h>
#include <string.h>

slice_t slice_cstr(const char *s) {
    return (slice_t){(const uint8_t *)s, strlen(s)};
}

bool slice_eq_cstr(slice_t s, const char *text) {
    size_t n = strlen(text);
    return s.len == n && (n == 0 || memcmp(s.ptr, text, n) == 0);
}

static uint8_t ascii_lower(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

bool slice_eq_ignore_ascii_case(slice_t s, const char *text) {
    size_t n = strlen(text);
    if (s.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower(s.ptr[i]) != ascii_lower((uint8_t)text[i])) return false;
    }
    return true;
}

void *checked_realloc(void *ptr, size_t size) {
    void *p = realloc(ptr, size);
    if (!p) abort();
    return p;
}

void buf_reserve(buf_t *b, size_t extra) {
    if (extra <= b->cap - b->len) return;
    if (extra > SIZE_MAX - b->len) abort();
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    b->ptr = checked_realloc(b->ptr, cap);
    b->cap = cap;
}

void buf_put(buf_t *b, const void *bytes, size_t len) {
    if (len == 0) return;
    buf_reserve(b, len);
    memcpy(b->ptr + b->len, bytes, len);
    b->len += len;
}

void buf_str(buf_t *b, const char *s) {
    buf_put(b, s, strlen(s));
}

void buf_u64(buf_t *b, uint64_t value) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    buf_put(b, digits + sizeof digits - n, n);
}

void buf_json_string(buf_t *b, slice_t s) {
    static const char hex[] = "0123456789abcdef";
    buf_put(b, "\"", 1);
    size_t plain = 0;  // start of the run of bytes copied as they are
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c != '"' && c != '\\' && c >= 0x20) continue;
        buf_put(b, s.ptr + plain, i - plain);
        plain = i + 1;
        if (c == '"') {
            buf_put(b, "\\\"", 2);
        } else if (c == '\\') {
            buf_put(b, "\\\\", 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_put(b, esc, sizeof esc);
        }
    }
    buf_put(b, s.ptr + plain, s.len - plain);
    buf_put(b, "\"", 1);
}

void buf_free(buf_t *b) {
    free(b->ptr);
    *b = (buf_t){0};
}

// Decodes the UTF-8 sequence at s[*i], advancing *i; returns false if it is not valid.
static bool utf8_next(slice_t s, size_t *i, uint32_t *cp) {
    const uint8_t *p = s.ptr + *i;
    size_t left = s.len - *i;
    uint8_t c = p[0];
    uint32_t v, min;
    size_t n;
    if (c < 0x80) {
        *cp = c;
        *i += 1;
        return true;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return false;
    }
    if (left < n) return false;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80) return false;
        v = (v << 6) | (p[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
    *cp = v;
    *i += n;
    return true;
}

bool utf8_valid(slice_t s) {
    size_t i = 0;
    uint32_t cp;
    while (i < s.len) {
        if (!utf8_next(s, &i, &cp)) return false;
    }
    return true;
}

static int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool percent_decode(slice_t in, buf_t *out) {
    out->len = 0;
    buf_reserve(out, in.len + 1);
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%' && in.len - i > 2) {
            int h = hex_value(in.ptr[i + 1]), l = hex_value(in.ptr[i + 2]);
            if (h >= 0 && l >= 0) {
                c = (uint8_t)(h * 16 + l);
                i += 2;
            }
        }
        out->ptr[out->len++] = c;
    }
    return utf8_valid((slice_t){out->ptr, out->len});
}

static bool is_unicode_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

slice_t trim_unicode(slice_t s) {
    size_t start = 0, end = 0, i = 0;
    bool seen = false;
    while (i < s.len) {
        size_t at = i;
        uint32_t cp;
        if (!utf8_next(s, &i, &cp)) return s;  // not UTF-8: callers check first
        if (!is_unicode_space(cp)) {
            if (!seen) start = at, seen = true;
            end = i;
        }
    }
    return seen ? (slice_t){s.ptr + start, end - start} : (slice_t){s.ptr, 0};
}

bool parse_unsigned(slice_t s, uint64_t max, uint64_t *out) {
    size_t i = 0;
    if (s.len > 0 && s.ptr[0] == '+') i = 1;
    if (i == s.len) return false;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c < '0' || c > '9') return false;
        uint64_t d = c - '0';
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}
