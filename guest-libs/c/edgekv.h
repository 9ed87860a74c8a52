// edgekv.h: the edgekv KV binding (`edgekv:kv/store`) for C guests, as a thin wrapper over the
// bindings `wit-bindgen c` generates for the world `edgekv:kv/edge-app`. Compile edgekv.c with the
// generated edge_app.h on the include path; this header itself includes none of it.
//
//     edgekv_namespace_t ns;
//     edgekv_error_t err;
//     if (edgekv_open(edgekv_str("default"), &ns, &err) != EDGEKV_OK) { ...; edgekv_error_free(&err); }
//     edgekv_put_options_t opts = {.expiry = EDGEKV_EXPIRY_TTL, .expiry_seconds = 3600};
//     edgekv_put(ns, edgekv_str("greeting"), (const uint8_t *)"hello", 5, &opts, NULL, &err);
//     edgekv_close(&ns);
//
// Conventions:
// - Every operation returns an `edgekv_status_t`: EDGEKV_OK, or the error variant of the binding.
//   On failure, when `err` is not NULL, it is filled and owned by the caller (edgekv_error_free).
// - Inputs are borrowed for the call only: `edgekv_str_t` views (not NUL-terminated) and byte
//   pointers. An optional input is a pointer, NULL when absent.
// - Outputs (`edgekv_entry_t`, `edgekv_put_result_t`, `edgekv_page_t`) are owned by the caller
//   once the call returns EDGEKV_OK and are released with their `*_free` function; an optional
//   output has a `has_*` flag. Every free function accepts a zeroed struct and leaves one behind.
// - Memory comes from malloc (wit-bindgen's cabi_realloc); an allocation that fails traps, as the
//   generated bindings do.
#ifndef EDGEKV_H
#define EDGEKV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The outcome of an operation: EDGEKV_OK or one case of the binding's `error` variant.
typedef enum {
    EDGEKV_OK = 0,
    EDGEKV_ERR_NO_SUCH_STORE,       // the binding is granted but no namespace is behind it
    EDGEKV_ERR_ACCESS_DENIED,       // the app was not granted the binding
    EDGEKV_ERR_INVALID_KEY,         // empty, too long, bad characters, reserved
    EDGEKV_ERR_VALUE_TOO_LARGE,     // over the profile's value size
    EDGEKV_ERR_METADATA_TOO_LARGE,  // over the profile's metadata size, or it keeps none
    EDGEKV_ERR_INVALID_EXPIRATION,  // too soon, too far, or the namespace keeps no expiry
    EDGEKV_ERR_QUOTA_EXCEEDED,      // the namespace would grow past a quota
    EDGEKV_ERR_CONFLICT,            // a precondition failed; nothing was written
    EDGEKV_ERR_OTHER,               // anything else (bad metadata JSON, bad cursor or limit, storage)
} edgekv_status_t;

// A borrowed view of bytes (UTF-8 text where a string is expected); not NUL-terminated.
typedef struct {
    const uint8_t *ptr;
    size_t len;
} edgekv_str_t;

// Bytes owned by the caller once returned; release with the free function of the struct holding it.
typedef struct {
    uint8_t *ptr;
    size_t len;
} edgekv_buf_t;

// Why an operation failed. `message` is the store's message (it names the rule, its limit and the
// size seen); for EDGEKV_ERR_CONFLICT it is the entry's current ETag. `has_message` is false for
// EDGEKV_ERR_NO_SUCH_STORE, EDGEKV_ERR_ACCESS_DENIED and a conflict on an absent key.
typedef struct {
    edgekv_status_t code;
    bool has_message;
    edgekv_buf_t message;
} edgekv_error_t;

// An open namespace. Close it with edgekv_close.
typedef struct {
    int32_t handle;
} edgekv_namespace_t;

// A live entry, read by edgekv_get.
typedef struct {
    edgekv_buf_t value;
    bool has_metadata;
    edgekv_buf_t metadata;  // JSON text, stored compact
    bool has_content_type;
    edgekv_buf_t content_type;
    bool has_expires_at_ms;
    uint64_t expires_at_ms;  // unix milliseconds
    edgekv_buf_t etag;       // changes on every write of the key; pass it to `if_match`
} edgekv_entry_t;

// When a written entry expires.
typedef enum {
    EDGEKV_EXPIRY_NONE = 0,  // never (the default)
    EDGEKV_EXPIRY_TTL,       // `expiry_seconds` from now
    EDGEKV_EXPIRY_AT,        // at unix time `expiry_seconds`
} edgekv_expiry_t;

// How to write an entry; a zeroed struct (or NULL) writes with no option.
typedef struct {
    const edgekv_str_t *metadata;      // JSON text, checked and compacted by the store
    const edgekv_str_t *content_type;
    edgekv_expiry_t expiry;
    uint64_t expiry_seconds;
    const edgekv_str_t *if_match;      // write only if the entry's ETag is this one
    bool if_absent;                    // write only if the key does not exist (if_match wins)
} edgekv_put_options_t;

// What a successful put did.
typedef struct {
    edgekv_buf_t etag;  // the entry's new ETag
    bool created;       // the key did not exist before
} edgekv_put_result_t;

// Which page of keys to list; a zeroed struct (or NULL) lists from the start with the profile's
// default page size.
typedef struct {
    edgekv_str_t prefix;           // only keys starting with it (empty: every key)
    const edgekv_str_t *cursor;    // start after the page that returned it
    const uint32_t *limit;         // at most this many keys
} edgekv_list_options_t;

// One key of a listing.
typedef struct {
    edgekv_buf_t name;
    bool has_expires_at_ms;
    uint64_t expires_at_ms;
    bool has_metadata;
    edgekv_buf_t metadata;  // JSON text
    uint64_t size;          // of the value, in bytes
} edgekv_key_t;

// A page of keys in UTF-8 byte order; `has_cursor` is false on the last page.
typedef struct {
    edgekv_key_t *keys;
    size_t len;
    bool has_cursor;
    edgekv_buf_t cursor;
} edgekv_page_t;

// A view of a NUL-terminated string (without the NUL).
edgekv_str_t edgekv_str(const char *text);

// The WIT name of a status, e.g. "value-too-large" ("ok" for EDGEKV_OK).
const char *edgekv_status_name(edgekv_status_t status);

// Opens the namespace granted to this app under `binding`.
edgekv_status_t edgekv_open(edgekv_str_t binding, edgekv_namespace_t *ns, edgekv_error_t *err);

// Closes `ns`; it must not be used again.
void edgekv_close(edgekv_namespace_t *ns);

// Reads `key`: on EDGEKV_OK, `*found` says whether a live entry was there, and if so `*entry`
// holds it (release with edgekv_entry_free).
edgekv_status_t edgekv_get(edgekv_namespace_t ns, edgekv_str_t key, bool *found, edgekv_entry_t *entry,
                           edgekv_error_t *err);

// Writes `len` bytes at `value` to `key`. `options` and `result` may be NULL; a filled `result` is
// released with edgekv_put_result_free.
edgekv_status_t edgekv_put(edgekv_namespace_t ns, edgekv_str_t key, const uint8_t *value, size_t len,
                           const edgekv_put_options_t *options, edgekv_put_result_t *result, edgekv_error_t *err);

// Deletes `key` (only if its ETag is `*if_match`, when not NULL); `*deleted` (may be NULL) says
// whether a live entry was there.
edgekv_status_t edgekv_delete(edgekv_namespace_t ns, edgekv_str_t key, const edgekv_str_t *if_match, bool *deleted,
                              edgekv_error_t *err);

// Lists one page of keys into `*page` (release with edgekv_page_free).
edgekv_status_t edgekv_list(edgekv_namespace_t ns, const edgekv_list_options_t *options, edgekv_page_t *page,
                            edgekv_error_t *err);

void edgekv_error_free(edgekv_error_t *err);
void edgekv_entry_free(edgekv_entry_t *entry);
void edgekv_put_result_free(edgekv_put_result_t *result);
void edgekv_page_free(edgekv_page_t *page);

#ifdef __cplusplus
}
#endif

#endif
