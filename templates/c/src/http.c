#include "http.h"

#include <stdlib.h>
#include <string.h>

// Reads per blocking-read call, as rust-kv-api does.
#define READ_CHUNK (64 * 1024)
// Writes per blocking-write-and-flush call: the most the call accepts.
#define WRITE_CHUNK 4096
// A Content-Length up to this size is reserved up front (the stream decides the real length).
#define MAX_RESERVE ((size_t)32 * 1024 * 1024)

// Drops `err`; true when it is a failure rather than the end of the stream.
static bool drop_stream_error(wasi_io_streams_stream_error_t *err) {
    if (err->tag == WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED) {
        wasi_io_error_error_drop_own(err->val.last_operation_failed);
        return true;
    }
    return false;
}

// Reads the body whole into `out`; false when it did not arrive whole (the stream failed).
static bool read_body(wasi_http_types_own_incoming_body_t body, buf_t *out, size_t hint) {
    bool whole = true;
    if (hint > 0) buf_reserve(out, hint < MAX_RESERVE ? hint : MAX_RESERVE);
    wasi_http_types_own_input_stream_t stream;
    if (wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body), &stream)) {
        wasi_io_streams_borrow_input_stream_t borrowed = wasi_io_streams_borrow_input_stream(stream);
        for (;;) {
            edge_app_list_u8_t chunk;
            wasi_io_streams_stream_error_t err;
            if (!wasi_io_streams_method_input_stream_blocking_read(borrowed, READ_CHUNK, &chunk, &err)) {
                whole = !drop_stream_error(&err);  // closed: the end; failed: not whole
                break;
            }
            buf_put(out, chunk.ptr, chunk.len);
            edge_app_list_u8_free(&chunk);
        }
        wasi_io_streams_input_stream_drop_own(stream);
    }
    wasi_http_types_future_trailers_drop_own(wasi_http_types_static_incoming_body_finish(body));
    return whole;
}

// The first header named `name`, raw.
static bool find_header(const request_t *req, const char *name, slice_t *value) {
    for (size_t i = 0; i < req->headers.len; i++) {
        const wasi_http_types_tuple2_field_name_field_value_t *h = &req->headers.ptr[i];
        if (slice_eq_ignore_ascii_case((slice_t){h->f0.ptr, h->f0.len}, name)) {
            *value = (slice_t){h->f1.ptr, h->f1.len};
            return true;
        }
    }
    return false;
}

bool request_header(const request_t *req, const char *name, slice_t *value) {
    slice_t v;
    if (!find_header(req, name, &v) || !utf8_valid(v)) return false;
    *value = v;
    return true;
}

void request_read(wasi_http_types_own_incoming_request_t request, request_t *out) {
    memset(out, 0, sizeof *out);
    wasi_http_types_borrow_incoming_request_t req = wasi_http_types_borrow_incoming_request(request);
    wasi_http_types_own_headers_t headers = wasi_http_types_method_incoming_request_headers(req);
    wasi_http_types_method_fields_entries(wasi_http_types_borrow_fields(headers), &out->headers);
    wasi_http_types_fields_drop_own(headers);
    wasi_http_types_method_incoming_request_method(req, &out->method);
    // Only writes carry a body; waiting for the end of an empty stream costs a host round trip.
    if (out->method.tag == WASI_HTTP_TYPES_METHOD_PUT || out->method.tag == WASI_HTTP_TYPES_METHOD_POST) {
        slice_t length;
        uint64_t hint = 0;
        if (!find_header(out, "content-length", &length) || !parse_unsigned(length, UINT64_MAX, &hint)) hint = 0;
        wasi_http_types_own_incoming_body_t body;
        if (wasi_http_types_method_incoming_request_consume(req, &body)) {
            out->body_failed = !read_body(body, &out->body, hint > MAX_RESERVE ? MAX_RESERVE : (size_t)hint);
        }
    }
    if (wasi_http_types_method_incoming_request_path_with_query(req, &out->path_owned)) {
        out->path = (slice_t){out->path_owned.ptr, out->path_owned.len};
    } else {
        out->path = slice_cstr("/");
    }
    wasi_http_types_incoming_request_drop_own(request);
}

void request_free(request_t *req) {
    wasi_http_types_method_free(&req->method);
    edge_app_string_free(&req->path_owned);
    wasi_http_types_list_tuple2_field_name_field_value_free(&req->headers);
    buf_free(&req->body);
}

static void reply_init(reply_t *r, uint16_t status) {
    memset(r, 0, sizeof *r);
    r->status = status;
}

void reply_bytes(reply_t *r, uint16_t status, uint8_t *bytes, size_t len) {
    reply_init(r, status);
    r->body = bytes;
    r->body_len = len;
}

void reply_text(reply_t *r, uint16_t status, const char *text) {
    buf_t body = {0};
    buf_str(&body, text);
    buf_put(&body, "\n", 1);
    reply_init(r, status);
    r->body = body.ptr;
    r->body_len = body.len;
    reply_header(r, "content-type", slice_cstr("text/plain; charset=utf-8"));
}

void reply_json(reply_t *r, uint16_t status, buf_t *json) {
    reply_init(r, status);
    r->body = json->ptr;
    r->body_len = json->len;
    *json = (buf_t){0};
    reply_header(r, "content-type", slice_cstr("application/json"));
}

void reply_header(reply_t *r, const char *name, slice_t value) {
    if (r->header_count == REPLY_MAX_HEADERS) abort();  // a bug in this program
    buf_t v = {0};
    buf_put(&v, value.ptr, value.len);
    r->header_names[r->header_count] = name;
    r->header_values[r->header_count] = v;
    r->header_count++;
}

static void reply_free(reply_t *r) {
    if (r->body_len > 0) free(r->body);
    for (size_t i = 0; i < r->header_count; i++) buf_free(&r->header_values[i]);
    memset(r, 0, sizeof *r);
}

void reply_send(reply_t *r, wasi_http_types_own_response_outparam_t out) {
    wasi_http_types_tuple2_field_name_field_value_t entries[REPLY_MAX_HEADERS];
    for (size_t i = 0; i < r->header_count; i++) {
        entries[i].f0 = (edge_app_string_t){(uint8_t *)r->header_names[i], strlen(r->header_names[i])};
        entries[i].f1 = (wasi_http_types_field_value_t){r->header_values[i].ptr, r->header_values[i].len};
    }
    wasi_http_types_list_tuple2_field_name_field_value_t list = {entries, r->header_count};
    wasi_http_types_own_fields_t headers;
    wasi_http_types_header_error_t header_error;
    if (!wasi_http_types_static_fields_from_list(&list, &headers, &header_error)) {
        headers = wasi_http_types_constructor_fields();
    }
    wasi_http_types_own_outgoing_response_t response = wasi_http_types_constructor_outgoing_response(headers);
    wasi_http_types_borrow_outgoing_response_t borrowed = wasi_http_types_borrow_outgoing_response(response);
    wasi_http_types_method_outgoing_response_set_status_code(borrowed, r->status);
    wasi_http_types_own_outgoing_body_t body;
    if (!wasi_http_types_method_outgoing_response_body(borrowed, &body)) {
        // As rust-kv-api: no response; the host answers with an error.
        wasi_http_types_outgoing_response_drop_own(response);
        wasi_http_types_response_outparam_drop_own(out);
        reply_free(r);
        return;
    }
    wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false, .val.ok = response};
    wasi_http_types_static_response_outparam_set(out, &result);
    wasi_http_types_own_output_stream_t stream;
    if (wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &stream)) {
        wasi_io_streams_borrow_output_stream_t s = wasi_io_streams_borrow_output_stream(stream);
        for (size_t at = 0; at < r->body_len; at += WRITE_CHUNK) {
            size_t n = r->body_len - at < WRITE_CHUNK ? r->body_len - at : WRITE_CHUNK;
            edge_app_list_u8_t chunk = {r->body + at, n};
            wasi_io_streams_stream_error_t err;
            if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(s, &chunk, &err)) {
                drop_stream_error(&err);
                break;
            }
        }
        wasi_io_streams_output_stream_drop_own(stream);
    }
    wasi_http_types_error_code_t finish_error;
    if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &finish_error)) {
        wasi_http_types_error_code_free(&finish_error);
    }
    reply_free(r);
}
