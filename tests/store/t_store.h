/*
 * tests/store/t_store.h - helpers for the store tests: a fresh store per test (Criterion forks),
 * commands built from short calls, results kept as strings for byte-exact comparisons.
 */
#ifndef ET_TESTS_STORE_T_STORE_H
#define ET_TESTS_STORE_T_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/clock.h"
#include "store/store.h"

/* 2023-11-14T22:13:20Z, a round second so expirations print predictably. */
#define T_EPOCH_NS (1700000000LL * ET_NS_PER_SEC)

extern struct store *t_store;
extern int64_t t_now; /* the clock the helpers put in commands */

void t_setup(void);
void t_setup_history(size_t history_max);
void t_teardown(void);

/* Applies and publishes @c (now_ns filled from t_now when 0). Returns the error code (0 = ok). */
int t_apply(struct store_cmd c);
/* The last result: event @i's JSON, the number of events, the cause and index of an error. */
const char *t_ev(size_t i);
struct store_event *t_event(size_t i);
size_t t_event_count(void);
const char *t_cause(void);
uint64_t t_err_index(void);

int t_set(const char *key, const char *value);
int t_set_ttl(const char *key, const char *value, int64_t ttl_ms);
int t_mkdir(const char *key);
int t_mkdir_ttl(const char *key, int64_t ttl_ms);
int t_create(const char *key, const char *value);
int t_update(const char *key, const char *value);
int t_update_ttl(const char *key, const char *value, int64_t ttl_ms);
int t_refresh(int op, const char *key, int64_t ttl_ms);
int t_cas(const char *key, const char *value, const char *prev_value, uint64_t prev_index);
int t_del(const char *key, bool dir, bool recursive);
int t_cad(const char *key, const char *prev_value, uint64_t prev_index);
int t_post(const char *key, const char *value);
int t_sweep(void);

/* Hands the last result's events to @h. */
struct store_hub;
void t_dispatch(struct store_hub *h);

/* GET: the JSON body, or "E<code> <cause>" on error. */
const char *t_get(const char *key, bool recursive);
/* History scan: the matched event's JSON, "none", or "E<code> <cause>". */
const char *t_hist(const char *key, bool recursive, uint64_t from);

#endif
