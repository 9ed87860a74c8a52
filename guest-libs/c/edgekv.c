// edgekv.c: the implementation of edgekv.h over the `wit-bindgen c` bindings of the world
// `edgekv:kv/edge-app` (edge_app.h). It converts between the header's types and the generated
// ones, and moves the strings and lists the bindings return (allocated with malloc through
// cabi_realloc) into the caller's structs instead of copying them.

#include "edgekv.h"

#include <stdlib.h>
#include <string.h>

#include "edge_app.h"

static edge_app_string_t wit_string(edgekv_str_t s) {
    return (edge_app_string_t){(uint8_t *)s.ptr, s.len};
}

static edgekv_buf_t take_string(edge_app_string_t *s) {
    edgekv_buf_t b = {s->ptr, s->len};
    *s = (edge_app_string_t){NULL, 0};
    return b;
}

static bool take_option(edge_app_option_string_t *o, edgekv_buf_t *out) {
    if (!o->is_some) {
        *out = (edgekv_buf_t){NULL, 0};
        return false;
    }
    *out = take_string(&o->val);
    o->is_some = false;
    return true;
}

static void buf_free(edgekv_buf_t *b) {
    free(b->ptr);
    *b = (edgekv_buf_t){NULL, 0};
}

// Fills `err` (when not NULL) from the binding's error and frees what the binding returned.
static edgekv_status_t fail(edgekv_kv_store_error_t *e, edgekv_error_t *err) {
    edgekv_status_t code;
    edge_app_option_string_t message = {false, {NULL, 0}};
    switch (e->tag) {
        case EDGEKV_KV_STORE_ERROR_NO_SUCH_STORE: code = EDGEKV_ERR_NO_SUCH_STORE; break;
        case EDGEKV_KV_STORE_ERROR_ACCESS_DENIED: code = EDGEKV_ERR_ACCESS_DENIED; break;
        case EDGEKV_KV_STORE_ERROR_INVALID_KEY:
            code = EDGEKV_ERR_INVALID_KEY, message = (edge_app_option_string_t){true, e->val.invalid_key};
            break;
        case EDGEKV_KV_STORE_ERROR_VALUE_TOO_LARGE:
            code = EDGEKV_ERR_VALUE_TOO_LARGE, message = (edge_app_option_string_t){true, e->val.value_too_large};
            break;
        case EDGEKV_KV_STORE_ERROR_METADATA_TOO_LARGE:
            code = EDGEKV_ERR_METADATA_TOO_LARGE, message = (edge_app_option_string_t){true, e->val.metadata_too_large};
            break;
        case EDGEKV_KV_STORE_ERROR_INVALID_EXPIRATION:
            code = EDGEKV_ERR_INVALID_EXPIRATION, message = (edge_app_option_string_t){true, e->val.invalid_expiration};
            break;
        case EDGEKV_KV_STORE_ERROR_QUOTA_EXCEEDED:
            code = EDGEKV_ERR_QUOTA_EXCEEDED, message = (edge_app_option_string_t){true, e->val.quota_exceeded};
            break;
        case EDGEKV_KV_STORE_ERROR_CONFLICT: code = EDGEKV_ERR_CONFLICT, message = e->val.conflict; break;
        default: code = EDGEKV_ERR_OTHER, message = (edge_app_option_string_t){true, e->val.other}; break;
    }
    if (err) {
        err->code = code;
        err->has_message = take_option(&message, &err->message);
    } else if (message.is_some) {
        free(message.val.ptr);
    }
    return code;
}

edgekv_str_t edgekv_str(const char *text) {
    return (edgekv_str_t){(const uint8_t *)text, strlen(text)};
}

const char *edgekv_status_name(edgekv_status_t status) {
    switch (status) {
        case EDGEKV_OK: return "ok";
        case EDGEKV_ERR_NO_SUCH_STORE: return "no-such-store";
        case EDGEKV_ERR_ACCESS_DENIED: return "access-denied";
        case EDGEKV_ERR_INVALID_KEY: return "invalid-key";
        case EDGEKV_ERR_VALUE_TOO_LARGE: return "value-too-large";
        case EDGEKV_ERR_METADATA_TOO_LARGE: return "metadata-too-large";
        case EDGEKV_ERR_INVALID_EXPIRATION: return "invalid-expiration";
        case EDGEKV_ERR_QUOTA_EXCEEDED: return "quota-exceeded";
        case EDGEKV_ERR_CONFLICT: return "conflict";
        default: return "other";
    }
}

static edgekv_kv_store_borrow_namespace_t borrow(edgekv_namespace_t ns) {
    return edgekv_kv_store_borrow_namespace((edgekv_kv_store_own_namespace_t){ns.handle});
}

edgekv_status_t edgekv_open(edgekv_str_t binding, edgekv_namespace_t *ns, edgekv_error_t *err) {
    edge_app_string_t b = wit_string(binding);
    edgekv_kv_store_own_namespace_t owned;
    edgekv_kv_store_error_t e;
    if (!edgekv_kv_store_static_namespace_open(&b, &owned, &e)) return fail(&e, err);
    ns->handle = owned.__handle;
    return EDGEKV_OK;
}

void edgekv_close(edgekv_namespace_t *ns) {
    edgekv_kv_store_namespace_drop_own((edgekv_kv_store_own_namespace_t){ns->handle});
    ns->handle = -1;
}

edgekv_status_t edgekv_get(edgekv_namespace_t ns, edgekv_str_t key, bool *found, edgekv_entry_t *entry,
                           edgekv_error_t *err) {
    edge_app_string_t k = wit_string(key);
    edgekv_kv_store_option_entry_t got;
    edgekv_kv_store_error_t e;
    if (!edgekv_kv_store_method_namespace_get(borrow(ns), &k, &got, &e)) return fail(&e, err);
    *found = got.is_some;
    if (!got.is_some) return EDGEKV_OK;
    edgekv_kv_store_entry_t *g = &got.val;
    entry->value = (edgekv_buf_t){g->value.ptr, g->value.len};
    entry->has_metadata = take_option(&g->metadata, &entry->metadata);
    entry->has_content_type = take_option(&g->content_type, &entry->content_type);
    entry->has_expires_at_ms = g->expires_at_ms.is_some;
    entry->expires_at_ms = g->expires_at_ms.is_some ? g->expires_at_ms.val : 0;
    entry->etag = take_string(&g->etag);
    return EDGEKV_OK;
}

edgekv_status_t edgekv_put(edgekv_namespace_t ns, edgekv_str_t key, const uint8_t *value, size_t len,
                           const edgekv_put_options_t *options, edgekv_put_result_t *result, edgekv_error_t *err) {
    edgekv_kv_store_put_options_t o;
    memset(&o, 0, sizeof o);
    if (options) {
        if (options->metadata) o.metadata = (edge_app_option_string_t){true, wit_string(*options->metadata)};
        if (options->content_type) {
            o.content_type = (edge_app_option_string_t){true, wit_string(*options->content_type)};
        }
        if (options->expiry == EDGEKV_EXPIRY_TTL) {
            o.expiration.is_some = true;
            o.expiration.val.tag = EDGEKV_KV_STORE_EXPIRATION_TTL_SECONDS;
            o.expiration.val.val.ttl_seconds = options->expiry_seconds;
        } else if (options->expiry == EDGEKV_EXPIRY_AT) {
            o.expiration.is_some = true;
            o.expiration.val.tag = EDGEKV_KV_STORE_EXPIRATION_AT_UNIX_SECONDS;
            o.expiration.val.val.at_unix_seconds = options->expiry_seconds;
        }
        if (options->if_match) {
            o.precondition.is_some = true;
            o.precondition.val.tag = EDGEKV_KV_STORE_PRECONDITION_IF_MATCH;
            o.precondition.val.val.if_match = wit_string(*options->if_match);
        } else if (options->if_absent) {
            o.precondition.is_some = true;
            o.precondition.val.tag = EDGEKV_KV_STORE_PRECONDITION_IF_ABSENT;
        }
    }
    edge_app_string_t k = wit_string(key);
    edge_app_list_u8_t v = {(uint8_t *)value, len};
    edgekv_kv_store_put_result_t done;
    edgekv_kv_store_error_t e;
    if (!edgekv_kv_store_method_namespace_put(borrow(ns), &k, &v, &o, &done, &e)) return fail(&e, err);
    if (result) {
        result->etag = take_string(&done.etag);
        result->created = done.created;
    }
    edgekv_kv_store_put_result_free(&done);
    return EDGEKV_OK;
}

edgekv_status_t edgekv_delete(edgekv_namespace_t ns, edgekv_str_t key, const edgekv_str_t *if_match, bool *deleted,
                              edgekv_error_t *err) {
    edge_app_string_t k = wit_string(key);
    edge_app_string_t m;
    if (if_match) m = wit_string(*if_match);
    bool existed;
    edgekv_kv_store_error_t e;
    if (!edgekv_kv_store_method_namespace_delete(borrow(ns), &k, if_match ? &m : NULL, &existed, &e)) {
        return fail(&e, err);
    }
    if (deleted) *deleted = existed;
    return EDGEKV_OK;
}

edgekv_status_t edgekv_list(edgekv_namespace_t ns, const edgekv_list_options_t *options, edgekv_page_t *page,
                            edgekv_error_t *err) {
    edgekv_list_options_t none;
    memset(&none, 0, sizeof none);
    if (!options) options = &none;
    edge_app_string_t prefix = wit_string(options->prefix);
    edge_app_string_t cursor;
    if (options->cursor) cursor = wit_string(*options->cursor);
    uint32_t limit = options->limit ? *options->limit : 0;
    edgekv_kv_store_key_page_t got;
    edgekv_kv_store_error_t e;
    if (!edgekv_kv_store_method_namespace_list(borrow(ns), &prefix, options->cursor ? &cursor : NULL,
                                               options->limit ? &limit : NULL, &got, &e)) {
        return fail(&e, err);
    }
    page->len = got.keys.len;
    page->keys = got.keys.len ? calloc(got.keys.len, sizeof(edgekv_key_t)) : NULL;
    if (got.keys.len && !page->keys) abort();
    for (size_t i = 0; i < got.keys.len; i++) {
        edgekv_kv_store_key_info_t *g = &got.keys.ptr[i];
        edgekv_key_t *k = &page->keys[i];
        k->name = take_string(&g->name);
        k->has_expires_at_ms = g->expires_at_ms.is_some;
        k->expires_at_ms = g->expires_at_ms.is_some ? g->expires_at_ms.val : 0;
        k->has_metadata = take_option(&g->metadata, &k->metadata);
        k->size = g->size;
    }
    page->has_cursor = take_option(&got.cursor, &page->cursor);
    edgekv_kv_store_key_page_free(&got);
    return EDGEKV_OK;
}

void edgekv_error_free(edgekv_error_t *err) {
    buf_free(&err->message);
    err->has_message = false;
}

void edgekv_entry_free(edgekv_entry_t *entry) {
    buf_free(&entry->value);
    buf_free(&entry->metadata);
    buf_free(&entry->content_type);
    buf_free(&entry->etag);
    entry->has_metadata = entry->has_content_type = entry->has_expires_at_ms = false;
}

void edgekv_put_result_free(edgekv_put_result_t *result) {
    buf_free(&result->etag);
}

void edgekv_page_free(edgekv_page_t *page) {
    for (size_t i = 0; i < page->len; i++) {
        buf_free(&page->keys[i].name);
        buf_free(&page->keys[i].metadata);
    }
    free(page->keys);
    page->keys = NULL;
    page->len = 0;
    buf_free(&page->cursor);
    page->has_cursor = false;
}
