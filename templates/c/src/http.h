// Reading a wasi:http request whole and writing a response (the C twin of rust-kv-api's http.rs).
#ifndef C_KV_API_HTTP_H
#define C_KV_API_HTTP_H

#include "edge_app.h"
#include "text.h"

typedef struct {
    wasi_http_types_method_t method;
    slice_t path;  // path with query; "/" if the request has none
    edge_app_string_t path_owned;
    wasi_http_types_list_tuple2_field_name_field_value_t headers;
    buf_t body;  // read whole, for PUT and POST only
    bool body_failed;  // the body did not arrive whole (its stream failed rather than closed)
} request_t;

// Reads the request, its body included, and drops it.
void request_read(wasi_http_types_own_incoming_request_t request, request_t *out);
// The first header named `name` (ASCII case-insensitive), if its value is UTF-8.
bool request_header(const request_t *req, const char *name, slice_t *value);
void request_free(request_t *req);

#define REPLY_MAX_HEADERS 4

typedef struct {
    uint16_t status;
    size_t header_count;
    const char *header_names[REPLY_MAX_HEADERS];
    buf_t header_values[REPLY_MAX_HEADERS];
    uint8_t *body;  // owned: freed with free() if `body_len` > 0
    size_t body_len;
} reply_t;

// A reply whose body is `bytes` (from malloc, or anything if `len` is 0), taken over.
void reply_bytes(reply_t *r, uint16_t status, uint8_t *bytes, size_t len);
// A `text/plain` reply of `text` and a newline.
void reply_text(reply_t *r, uint16_t status, const char *text);
// An `application/json` reply; takes over `json`.
void reply_json(reply_t *r, uint16_t status, buf_t *json);
// Adds a header; the value is copied.
void reply_header(reply_t *r, const char *name, slice_t value);
// Sends the reply through `out` and frees it.
void reply_send(reply_t *r, wasi_http_types_own_response_outparam_t out);

#endif
