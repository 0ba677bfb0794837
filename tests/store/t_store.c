/*
 * tests/store/t_store.c - helpers shared by the store tests (see t_store.h).
 */
#include "t_store.h"

#include <stdio.h>
#include <string.h>

struct store *t_store;
int64_t t_now;
static struct store_result t_last;
static struct et_buf t_out = ET_BUF_INIT;

void t_setup_history(size_t history_max)
{
    store_reader_register();
    struct store_config cfg = { .history_max = history_max };
    t_store = store_new(&cfg);
    t_now = T_EPOCH_NS;
    memset(&t_last, 0, sizeof(t_last));
}

void t_setup(void)
{
    t_setup_history(0);
}

void t_teardown(void)
{
    store_result_free(&t_last);
    et_buf_free(&t_out);
    store_free(t_store);
    t_store = NULL;
    store_reader_unregister();
}

int t_apply(struct store_cmd c)
{
    if (c.now_ns == 0)
        c.now_ns = t_now;
    if (c.value == NULL)
        c.value = "";
    store_result_free(&t_last);
    store_apply(t_store, &c, &t_last);
    store_publish(t_store);
    return t_last.err;
}

const char *t_ev(size_t i)
{
    return i < t_last.event_count ? t_last.events[i]->json : "(no event)";
}

struct store_event *t_event(size_t i)
{
    return i < t_last.event_count ? t_last.events[i] : NULL;
}

size_t t_event_count(void)
{
    return t_last.event_count;
}

const char *t_cause(void)
{
    return t_last.cause.data ? t_last.cause.data : "";
}

uint64_t t_err_index(void)
{
    return t_last.index;
}

static struct store_cmd cmd(int op, const char *key, const char *value)
{
    struct store_cmd c = { .op = (uint8_t)op, .key = key, .key_len = strlen(key) };
    if (value) {
        c.value = value;
        c.value_len = strlen(value);
    }
    return c;
}

static int64_t expire_in(int64_t ttl_ms)
{
    return t_now + ttl_ms * ET_NS_PER_MSEC;
}

int t_set(const char *key, const char *value)
{
    return t_apply(cmd(STORE_OP_SET, key, value));
}

int t_set_ttl(const char *key, const char *value, int64_t ttl_ms)
{
    struct store_cmd c = cmd(STORE_OP_SET, key, value);
    c.expire_ns = expire_in(ttl_ms);
    return t_apply(c);
}

int t_mkdir(const char *key)
{
    struct store_cmd c = cmd(STORE_OP_SET, key, NULL);
    c.dir = true;
    return t_apply(c);
}

int t_mkdir_ttl(const char *key, int64_t ttl_ms)
{
    struct store_cmd c = cmd(STORE_OP_SET, key, NULL);
    c.dir = true;
    c.expire_ns = expire_in(ttl_ms);
    return t_apply(c);
}

int t_create(const char *key, const char *value)
{
    return t_apply(cmd(STORE_OP_CREATE, key, value));
}

int t_update(const char *key, const char *value)
{
    return t_apply(cmd(STORE_OP_UPDATE, key, value));
}

int t_update_ttl(const char *key, const char *value, int64_t ttl_ms)
{
    struct store_cmd c = cmd(STORE_OP_UPDATE, key, value);
    c.expire_ns = expire_in(ttl_ms);
    return t_apply(c);
}

int t_refresh(int op, const char *key, int64_t ttl_ms)
{
    struct store_cmd c = cmd(op, key, NULL);
    c.refresh = true;
    c.expire_ns = expire_in(ttl_ms);
    return t_apply(c);
}

int t_cas(const char *key, const char *value, const char *prev_value, uint64_t prev_index)
{
    struct store_cmd c = cmd(STORE_OP_CAS, key, value);
    if (prev_value) {
        c.has_prev_value = true;
        c.prev_value = prev_value;
        c.prev_value_len = strlen(prev_value);
    }
    c.prev_index = prev_index;
    return t_apply(c);
}

int t_del(const char *key, bool dir, bool recursive)
{
    struct store_cmd c = cmd(STORE_OP_DELETE, key, NULL);
    c.dir = dir;
    c.recursive = recursive;
    return t_apply(c);
}

int t_cad(const char *key, const char *prev_value, uint64_t prev_index)
{
    struct store_cmd c = cmd(STORE_OP_CAD, key, NULL);
    if (prev_value) {
        c.has_prev_value = true;
        c.prev_value = prev_value;
        c.prev_value_len = strlen(prev_value);
    }
    c.prev_index = prev_index;
    return t_apply(c);
}

int t_post(const char *key, const char *value)
{
    return t_apply(cmd(STORE_OP_CREATE_INORDER, key, value));
}

int t_sweep(void)
{
    struct store_cmd c = { .op = STORE_OP_EXPIRE, .key = "", .value = "" };
    return t_apply(c);
}

const char *t_get(const char *key, bool recursive)
{
    struct et_buf cause = ET_BUF_INIT;
    uint64_t index;
    et_buf_reset(&t_out);
    int rc = store_get(t_store, key, strlen(key), recursive, true, t_now, &t_out, &index, &cause);
    if (rc) {
        et_buf_reset(&t_out);
        et_buf_printf(&t_out, "E%d %s", rc, cause.data ? cause.data : "");
    }
    et_buf_free(&cause);
    return t_out.data;
}

const char *t_hist(const char *key, bool recursive, uint64_t from)
{
    struct et_buf cause = ET_BUF_INIT;
    struct store_event *ev = NULL;
    uint64_t to = 0;
    et_buf_reset(&t_out);
    int rc = store_history_find(t_store, key, strlen(key), recursive, from, &ev, &to, &cause);
    if (rc)
        et_buf_printf(&t_out, "E%d %s", rc, cause.data ? cause.data : "");
    else if (ev)
        et_buf_append(&t_out, ev->json, ev->json_len);
    else
        et_buf_append_str(&t_out, "none");
    store_event_unref(ev);
    et_buf_free(&cause);
    return t_out.data;
}

void t_dispatch(struct store_hub *h)
{
    store_hub_dispatch(h, t_last.events, t_last.event_count);
}
