/*
 * core/config_int.h - declarations shared by core/config*.c (not a public contract).
 */
#ifndef ET_CORE_CONFIG_INT_H
#define ET_CORE_CONFIG_INT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"

void et__strlist_push(struct et_strlist *l, const char *s, size_t len);
void et__go_quote(struct et_buf *b, const char *s, size_t len);
void et__set_err(char *err, size_t err_len, const char *msg);
/* et_urls_parse() with the message appended to @e. */
int et__urls_parse_buf(const char *list, struct et_strlist *out, struct et_buf *e);

/* What a YAML value resolves to (YAML 1.1 rules of the Go yaml library). */
enum et__yaml_type {
    ET_YAML_NULL,   /* empty, ~, null */
    ET_YAML_BOOL,   /* true/false/yes/no/on/off/y/n in their case variants */
    ET_YAML_INT,    /* decimal, 0x, 0o, 0b, 0-octal, with _ */
    ET_YAML_FLOAT,  /* 1.5, 1e3, .inf, .nan */
    ET_YAML_STRING, /* anything else, and every quoted scalar */
    ET_YAML_LIST,   /* flow or block sequence */
};

/* One "key: value" of a YAML config file; @section is "" at top level, else the parent key. */
struct et__yaml_entry {
    enum et__yaml_type type;
    char *section;
    char *key;
    char *value; /* scalar text (quotes removed); a flow or block list is joined with ',' */
    int line;
};

struct et__yaml_doc {
    struct et__yaml_entry *entries;
    size_t count;
};

/* Parses the subset of YAML etcd's sample config uses. Returns 0, or -EINVAL with etcd's message
 * ("error converting YAML to JSON: yaml: line N: ...") in @e. */
int et__yaml_parse(const char *text, size_t len, struct et__yaml_doc *doc, struct et_buf *e);
void et__yaml_free(struct et__yaml_doc *doc);

#endif
