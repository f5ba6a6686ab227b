/* A message head as llhttp hands it over, in spans: the bytes are copied
 * once into one growing buffer with a NUL after each piece, and fields are
 * kept as offsets (the buffer moves while it grows) until msghead_headers
 * builds the pointers. Used for requests (engine_parse.c) and responses
 * (upstream.c). */
#ifndef FW_MSGHEAD_H
#define FW_MSGHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "request.h"

struct msghead_field {
    uint32_t name_off, name_len, val_off, val_len;
};

struct msghead {
    char *buf;
    size_t len, cap, max;
    struct msghead_field *fields;
    size_t nfields, fields_cap;
    struct header *headers;
    size_t headers_cap;
    bool in_value;
    bool too_large;          /* an append went past max */
};

void msghead_init(struct msghead *h, size_t max);
void msghead_reset(struct msghead *h);
void msghead_free(struct msghead *h);
/* Raw bytes (a URL, a header span). 0, or -1 when over max or out of memory. */
int msghead_append(struct msghead *h, const char *at, size_t len);
/* Append len bytes found at offset from in the buffer itself (safe when
 * the buffer moves as it grows). */
int msghead_copy(struct msghead *h, size_t from, size_t len);
/* End the current piece with a NUL. */
int msghead_terminate(struct msghead *h);
/* The four header callbacks of llhttp, in their order. name_done returns
 * the field whose name just ended (NULL on failure) so callers can check it;
 * it puts the name in Go's canonical case (target_canonical_token), as Go
 * reads heads: every lookup below then compares bytes, and takes a name in
 * that case. */
int msghead_name(struct msghead *h, const char *at, size_t len);
const struct msghead_field *msghead_name_done(struct msghead *h);
int msghead_value(struct msghead *h, const char *at, size_t len);
int msghead_value_done(struct msghead *h);
/* A continuation line (obs-fold) begins: the value so far loses its
 * trailing whitespace and, unless empty, gains one space, as Go joins the
 * lines. The caller leaves out the continuation's leading whitespace. */
int msghead_value_fold(struct msghead *h);
/* A whole field at once, as the four callbacks above would leave it for
 * a name and a value in one span each, the value's whitespace already
 * trimmed. 0, or -1 when over max, out of memory, or when the name is not
 * plain (target_canonical_plain). */
int msghead_field(struct msghead *h, const char *name, size_t nlen, const char *value,
                  size_t vlen);
/* Forget a field whose name has begun and not ended. */
void msghead_drop_partial_name(struct msghead *h);
/* Forget the last field (its value ended). */
void msghead_drop_last(struct msghead *h);
/* The first field named name (len bytes), NULL when none. */
const struct msghead_field *msghead_find(const struct msghead *h, const char *name, size_t len);
/* How many fields are named name (len bytes). */
size_t msghead_count(const struct msghead *h, const char *name, size_t len);
/* Whether an earlier field has the last field's name. */
bool msghead_last_repeats(const struct msghead *h);
/* Whether the last field (its name ended) is named name.
 * Called for every header: the common case, another length, is inline. */
static inline bool msghead_last_named(const struct msghead *h, const char *name, size_t len)
{
    return h->nfields > 0 && h->fields[h->nfields - 1].name_len == len &&
           memcmp(h->buf + h->fields[h->nfields - 1].name_off, name, len) == 0;
}
/* Whether the last field is named name and follows a field of the same
 * name. */
static inline bool msghead_repeats(const struct msghead *h, const char *name, size_t len)
{
    return h->nfields > 1 && msghead_last_named(h, name, len) && msghead_last_repeats(h);
}
/* After msghead_value_done of a field msghead_repeats: 0 when its value is
 * the earlier field's, and it is dropped (a repeat says nothing new); 1 when
 * the two differ. */
int msghead_drop_repeat(struct msghead *h);
/* Fill h->headers (h->nfields of them) with pointers into the buffer,
 * valid until the next append. 0, or -1 when out of memory. */
int msghead_build(struct msghead *h);
/* The same into out, room for cap, for a caller that reads them only
 * while it runs: false, out untouched, when they do not fit. */
bool msghead_build_into(const struct msghead *h, struct header *out, size_t cap);
/* After the head is complete: drop every field named name (any case) and
 * add name: value at the end. Call msghead_build again. 0 / -1. */
int msghead_set(struct msghead *h, const char *name, const char *value);

#endif
