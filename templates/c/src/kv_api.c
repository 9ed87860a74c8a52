// {{name}}: an edgekv guest in C (made with `edgekv new --lang c`).
//
// - `GET /`: a greeting with a visit count kept in KV under `visits` (incremented with an ETag
//   compare-and-swap, so concurrent visits are all counted).
// - `GET /kv/{key}`: the value, with `etag`, `content-type`, `x-metadata` and `x-expires-at-ms`.
// - `PUT /kv/{key}`: writes the body. Headers: `content-type`, `x-metadata` (JSON), `x-ttl`
//   (seconds) or `x-expiration` (unix seconds), `if-match` (ETag) or `if-none-match: *` (create
//   only). Answers 201 (created) or 200 with the new `etag`. A body that did not arrive whole (its
//   stream failed instead of closing) is answered 400 and nothing is written.
// - `DELETE /kv/{key}`: optional `if-match`. Answers `{"deleted":true|false}`.
// - `GET /kv?prefix=&cursor=&limit=`: one page of keys as JSON.
// - `GET /now`: the guest's wall clock (`wasi:clocks/wall-clock`, through wasi-libc) as
//   `{"now_ms": ...}`.
//
// Every route takes `x-binding` (default `default`) to pick the namespace. A binding error becomes
// a 4xx whose JSON body names the error variant: `{"error":"value-too-large","message":"..."}`.
// `{key}` and the query values are percent-decoded once and must be UTF-8. The KV binding is used
// through lib/edgekv.h; the wasi:http bindings come from `wit-bindgen c` (http.c). build.sh builds
// it; `edgekv dev` runs build.sh on every change.

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "edge_app.h"
#include "edgekv.h"
#include "http.h"
#include "text.h"

static edgekv_str_t kv_str(slice_t s) {
    return (edgekv_str_t){s.ptr, s.len};
}

static slice_t slice_of(edgekv_buf_t b) {
    return (slice_t){b.ptr, b.len};
}

static void json_or_null(buf_t *b, bool has, edgekv_buf_t s) {
    if (has) {
        buf_json_string(b, slice_of(s));
    } else {
        buf_str(b, "null");
    }
}

// A binding error as a 4xx whose body names the variant. Frees `e`.
static void error_reply(reply_t *reply, edgekv_error_t *e) {
    uint16_t status = 400;
    switch (e->code) {
        case EDGEKV_ERR_NO_SUCH_STORE: status = 404; break;
        case EDGEKV_ERR_ACCESS_DENIED: status = 403; break;
        case EDGEKV_ERR_VALUE_TOO_LARGE:
        case EDGEKV_ERR_METADATA_TOO_LARGE:
        case EDGEKV_ERR_QUOTA_EXCEEDED: status = 413; break;
        case EDGEKV_ERR_CONFLICT: {
            buf_t json = {0};
            buf_str(&json, "{\"error\":\"conflict\",\"current_etag\":");
            json_or_null(&json, e->has_message, e->message);
            buf_str(&json, "}");
            reply_json(reply, 412, &json);
            edgekv_error_free(e);
            return;
        }
        default: status = 400; break;
    }
    buf_t json = {0};
    buf_str(&json, "{\"error\":\"");
    buf_str(&json, edgekv_status_name(e->code));
    buf_str(&json, "\",\"message\":");
    json_or_null(&json, e->has_message, e->message);
    buf_str(&json, "}");
    reply_json(reply, status, &json);
    edgekv_error_free(e);
}

static void get(reply_t *reply, edgekv_namespace_t ns, slice_t key) {
    bool found;
    edgekv_entry_t entry;
    edgekv_error_t err;
    if (edgekv_get(ns, kv_str(key), &found, &entry, &err) != EDGEKV_OK) {
        error_reply(reply, &err);
        return;
    }
    if (!found) {
        buf_t json = {0};
        buf_str(&json, "{\"error\":\"not-found\"}");
        reply_json(reply, 404, &json);
        return;
    }
    reply_bytes(reply, 200, entry.value.ptr, entry.value.len);  // the value is sent as it came
    entry.value = (edgekv_buf_t){NULL, 0};
    slice_t content_type =
        entry.has_content_type ? slice_of(entry.content_type) : slice_cstr("application/octet-stream");
    reply_header(reply, "content-type", content_type);
    reply_header(reply, "etag", slice_of(entry.etag));
    if (entry.has_metadata) reply_header(reply, "x-metadata", slice_of(entry.metadata));
    if (entry.has_expires_at_ms) {
        buf_t at = {0};
        buf_u64(&at, entry.expires_at_ms);
        reply_header(reply, "x-expires-at-ms", (slice_t){at.ptr, at.len});
        buf_free(&at);
    }
    edgekv_entry_free(&entry);
}

typedef enum { NUMBER_ABSENT, NUMBER_OK, NUMBER_INVALID } number_t;

// A header holding whole seconds, as `value.trim().parse::<u64>()`.
static number_t number_header(const request_t *req, const char *name, uint64_t *out) {
    slice_t value;
    if (!request_header(req, name, &value)) return NUMBER_ABSENT;
    return parse_unsigned(trim_unicode(value), UINT64_MAX, out) ? NUMBER_OK : NUMBER_INVALID;
}

static void put(reply_t *reply, edgekv_namespace_t ns, const request_t *req, slice_t key) {
    edgekv_put_options_t options;
    memset(&options, 0, sizeof options);

    uint64_t ttl = 0, at = 0;
    number_t has_ttl = number_header(req, "x-ttl", &ttl);
    number_t has_at = number_header(req, "x-expiration", &at);
    if (has_ttl == NUMBER_OK) {
        options.expiry = EDGEKV_EXPIRY_TTL;
        options.expiry_seconds = ttl;
    } else if (has_ttl == NUMBER_ABSENT && has_at == NUMBER_OK) {
        options.expiry = EDGEKV_EXPIRY_AT;
        options.expiry_seconds = at;
    } else if (!(has_ttl == NUMBER_ABSENT && has_at == NUMBER_ABSENT)) {
        reply_text(reply, 400, "x-ttl and x-expiration must be whole seconds");
        return;
    }

    slice_t value;
    edgekv_str_t if_match, metadata, content_type;
    if (request_header(req, "if-match", &value)) {
        if_match = kv_str(value);
        options.if_match = &if_match;
    } else if (request_header(req, "if-none-match", &value) && slice_eq_cstr(value, "*")) {
        options.if_absent = true;
    }
    if (request_header(req, "x-metadata", &value)) {
        metadata = kv_str(value);
        options.metadata = &metadata;
    }
    if (request_header(req, "content-type", &value)) {
        content_type = kv_str(value);
        options.content_type = &content_type;
    }

    edgekv_put_result_t done;
    edgekv_error_t err;
    if (edgekv_put(ns, kv_str(key), req->body.ptr, req->body.len, &options, &done, &err) != EDGEKV_OK) {
        error_reply(reply, &err);
        return;
    }
    buf_t json = {0};
    buf_str(&json, "{\"etag\":");
    buf_json_string(&json, slice_of(done.etag));
    buf_str(&json, done.created ? ",\"created\":true}" : ",\"created\":false}");
    reply_json(reply, done.created ? 201 : 200, &json);
    reply_header(reply, "etag", slice_of(done.etag));
    edgekv_put_result_free(&done);
}

static void delete(reply_t *reply, edgekv_namespace_t ns, const request_t *req, slice_t key) {
    slice_t value;
    edgekv_str_t if_match;
    bool has_if_match = request_header(req, "if-match", &value);
    if (has_if_match) if_match = kv_str(value);
    bool deleted;
    edgekv_error_t err;
    if (edgekv_delete(ns, kv_str(key), has_if_match ? &if_match : NULL, &deleted, &err) != EDGEKV_OK) {
        error_reply(reply, &err);
        return;
    }
    buf_t json = {0};
    buf_str(&json, deleted ? "{\"deleted\":true}" : "{\"deleted\":false}");
    reply_json(reply, 200, &json);
}

// The first `name=value` pair of the query whose name is `name`, its value percent-decoded into
// `out`. A value that does not decode to UTF-8 counts as absent.
static bool query_param(slice_t query, const char *name, buf_t *out) {
    size_t start = 0;
    while (start <= query.len) {
        const uint8_t *amp = memchr(query.ptr + start, '&', query.len - start);
        size_t end = amp ? (size_t)(amp - query.ptr) : query.len;
        slice_t pair = {query.ptr + start, end - start};
        const uint8_t *eq = memchr(pair.ptr, '=', pair.len);
        if (eq && slice_eq_cstr((slice_t){pair.ptr, (size_t)(eq - pair.ptr)}, name)) {
            slice_t v = {eq + 1, pair.len - (size_t)(eq - pair.ptr) - 1};
            return percent_decode(v, out);
        }
        start = end + 1;
    }
    return false;
}

static void list(reply_t *reply, edgekv_namespace_t ns, slice_t query) {
    buf_t prefix = {0}, cursor = {0}, limit_text = {0};
    bool has_prefix = query_param(query, "prefix", &prefix);
    bool has_cursor = query_param(query, "cursor", &cursor);
    bool has_limit = query_param(query, "limit", &limit_text);
    uint32_t limit = 0;
    if (has_limit) {
        uint64_t v;
        if (!parse_unsigned((slice_t){limit_text.ptr, limit_text.len}, UINT32_MAX, &v)) {
            reply_text(reply, 400, "limit must be a number");
            goto done;
        }
        limit = (uint32_t)v;
    }
    edgekv_str_t c = {cursor.ptr, cursor.len};
    edgekv_list_options_t options = {
        .prefix = {has_prefix ? prefix.ptr : NULL, has_prefix ? prefix.len : 0},
        .cursor = has_cursor ? &c : NULL,
        .limit = has_limit ? &limit : NULL,
    };
    edgekv_page_t page;
    edgekv_error_t err;
    if (edgekv_list(ns, &options, &page, &err) != EDGEKV_OK) {
        error_reply(reply, &err);
        goto done;
    }
    buf_t json = {0};
    buf_str(&json, "{\"keys\":[");
    for (size_t i = 0; i < page.len; i++) {
        const edgekv_key_t *k = &page.keys[i];
        buf_str(&json, i ? ",{\"name\":" : "{\"name\":");
        buf_json_string(&json, slice_of(k->name));
        buf_str(&json, ",\"expires_at_ms\":");
        if (k->has_expires_at_ms) {
            buf_u64(&json, k->expires_at_ms);
        } else {
            buf_str(&json, "null");
        }
        buf_str(&json, ",\"metadata\":");
        if (k->has_metadata) {
            buf_put(&json, k->metadata.ptr, k->metadata.len);  // JSON text already
        } else {
            buf_str(&json, "null");
        }
        buf_str(&json, ",\"size\":");
        buf_u64(&json, k->size);
        buf_str(&json, "}");
    }
    buf_str(&json, "],\"cursor\":");
    json_or_null(&json, page.has_cursor, page.cursor);
    buf_str(&json, "}");
    reply_json(reply, 200, &json);
    edgekv_page_free(&page);
done:
    buf_free(&prefix);
    buf_free(&cursor);
    buf_free(&limit_text);
}

// What `GET /` says before the visit count.
static const char GREETING[] = "Hello from {{name}}!";

// Counts one visit into `*count`: read the count and its ETag, write count + 1 only if the ETag is
// still the same, and read again when another request wrote first.
static edgekv_status_t visit(edgekv_namespace_t ns, uint64_t *count, edgekv_error_t *err) {
    for (;;) {
        bool found = false;
        edgekv_entry_t entry;
        edgekv_status_t status = edgekv_get(ns, edgekv_str("visits"), &found, &entry, err);
        if (status != EDGEKV_OK) return status;
        uint64_t seen = 0;
        edgekv_put_options_t options;
        memset(&options, 0, sizeof options);
        edgekv_str_t etag = {0};
        if (found) {
            if (!parse_unsigned(slice_of(entry.value), UINT64_MAX - 1, &seen)) seen = 0;
            etag = (edgekv_str_t){entry.etag.ptr, entry.etag.len};
            options.if_match = &etag;
        } else {
            options.if_absent = true;
        }
        char text[24];
        int len = snprintf(text, sizeof text, "%llu", (unsigned long long)(seen + 1));
        status = edgekv_put(ns, edgekv_str("visits"), (const uint8_t *)text, (size_t)len, &options, NULL, err);
        if (found) edgekv_entry_free(&entry);
        if (status == EDGEKV_OK) {
            *count = seen + 1;
            return EDGEKV_OK;
        }
        if (status != EDGEKV_ERR_CONFLICT) return status;
        edgekv_error_free(err);
    }
}

static void greet(reply_t *reply, edgekv_namespace_t ns) {
    uint64_t count = 0;
    edgekv_error_t err;
    if (visit(ns, &count, &err) != EDGEKV_OK) {
        error_reply(reply, &err);
        return;
    }
    char text[sizeof GREETING + 32];
    snprintf(text, sizeof text, "%s (visit %llu)", GREETING, (unsigned long long)count);
    reply_text(reply, 200, text);
}

static void entry_route(reply_t *reply, edgekv_namespace_t ns, const request_t *req, slice_t key) {
    switch (req->method.tag) {
        case WASI_HTTP_TYPES_METHOD_GET: get(reply, ns, key); break;
        case WASI_HTTP_TYPES_METHOD_PUT: put(reply, ns, req, key); break;
        case WASI_HTTP_TYPES_METHOD_DELETE: delete(reply, ns, req, key); break;
        default: reply_text(reply, 405, "use GET, PUT or DELETE"); break;
    }
}

// The guest's wall clock in milliseconds since the Unix epoch, as `{"now_ms": ...}`.
static void now(reply_t *reply) {
    struct timespec ts;
    uint64_t ms = 0;
    if (timespec_get(&ts, TIME_UTC) == TIME_UTC && ts.tv_sec >= 0) {
        ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    }
    buf_t json = {0};
    buf_str(&json, "{\"now_ms\":");
    buf_u64(&json, ms);
    buf_str(&json, "}");
    reply_json(reply, 200, &json);
}

static void route(reply_t *reply, const request_t *req) {
    if (req->method.tag == WASI_HTTP_TYPES_METHOD_GET && slice_eq_cstr(req->path, "/now")) {
        now(reply);
        return;
    }
    slice_t binding;
    if (!request_header(req, "x-binding", &binding)) binding = slice_cstr("default");
    edgekv_namespace_t ns;
    edgekv_error_t err;
    if (edgekv_open(kv_str(binding), &ns, &err) != EDGEKV_OK) {
        error_reply(reply, &err);
        return;
    }

    slice_t path = req->path, query = {(const uint8_t *)"", 0};
    const uint8_t *q = memchr(path.ptr, '?', path.len);
    if (q) {
        query = (slice_t){q + 1, path.len - (size_t)(q - path.ptr) - 1};
        path.len = (size_t)(q - path.ptr);
    }
    bool under_kv = path.len >= 3 && memcmp(path.ptr, "/kv", 3) == 0;
    slice_t rest = under_kv ? (slice_t){path.ptr + 3, path.len - 3} : (slice_t){NULL, 0};
    if (req->method.tag == WASI_HTTP_TYPES_METHOD_GET && slice_eq_cstr(path, "/")) {
        greet(reply, ns);
    } else if (under_kv && req->method.tag == WASI_HTTP_TYPES_METHOD_GET && (rest.len == 0 || slice_eq_cstr(rest, "/"))) {
        list(reply, ns, query);
    } else if (under_kv && rest.len > 0 && rest.ptr[0] == '/') {
        buf_t key = {0};
        if (percent_decode((slice_t){rest.ptr + 1, rest.len - 1}, &key)) {
            entry_route(reply, ns, req, (slice_t){key.ptr, key.len});
        } else {
            reply_text(reply, 400, "the key is not valid percent-encoded UTF-8");
        }
        buf_free(&key);
    } else {
        reply_text(reply, 404, "routes: GET /, GET/PUT/DELETE /kv/{key}, GET /kv?prefix=&cursor=&limit=, GET /now");
    }
    edgekv_close(&ns);
}

void exports_wasi_http_incoming_handler_handle(exports_wasi_http_incoming_handler_own_incoming_request_t request,
                                               exports_wasi_http_incoming_handler_own_response_outparam_t out) {
    request_t req;
    reply_t reply;
    request_read(request, &req);
    if (req.body_failed) {
        reply_text(&reply, 400, "the request body did not arrive whole; nothing was written");
    } else {
        route(&reply, &req);
    }
    request_free(&req);
    reply_send(&reply, out);
}

// `wit-bindgen c --no-object-file` still references the symbol that would pull in the
// *_component_type.o; the world's type information is added by `wasm-tools component embed`.
void __component_type_object_force_link_edge_app(void) {}
