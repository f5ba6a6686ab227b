/* Engine internals shared by engine.c, engine_parse.c and response.c. */
#ifndef FW_ENGINE_INT_H
#define FW_ENGINE_INT_H

#include <llhttp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "deadline.h"
#include "engine.h"
#include "msghead.h"
#include "request.h"
#include "target.h"

struct evbuffer;
struct evconnlistener;
struct event;
struct event_base;

/* After an answer, what the client still sends is read and dropped for
 * this long before closing, so that it sees the answer, not a reset. */
#define LINGER_MS 2000

/* Where a connection is in its request cycle. */
enum conn_state {
    CONN_IDLE,      /* between requests (keep-alive) */
    CONN_HEAD,      /* reading a request head */
    CONN_BODY,      /* request dispatched, body still arriving */
    CONN_WAIT,      /* body complete, response in progress; parsing paused */
    CONN_LINGER,    /* response sent, closing: reading and discarding input */
};

#define HEAD_LINES_INDEXED 16 /* a longer block is indexed when sorted */

struct conn {
    struct engine *eng;
    struct bufferevent *bev;
    LIST_ENTRY(conn) link;
    llhttp_t parser;
    enum conn_state state;
    int busy;                /* callbacks on the stack; free is deferred */
    bool dead;
    bool parsing;            /* inside the llhttp loop */
    bool in_flight;          /* handed to the handler, not over yet */
    bool keep_alive;
    bool expect_continue;
    int reject;              /* status a parser callback refused the head with */
    const char *reject_why;  /* Go's text for it, NULL: "400 Bad Request" */
    /* A header name or value Go refuses (its text): Go reads the whole head
     * first and makes its other checks before this one (check_head). */
    const char *head_fault;
    /* llhttp stopped at that name or value: the rest of the head is read
     * line by line as Go reads it (feed_raw), then judged. */
    struct {
        bool on;
        bool first;          /* the line llhttp stopped in comes next */
        bool in_value;       /* llhttp stopped in that line's value */
        bool cr;             /* ... at a CR not followed by LF, which it took */
        size_t bytes;        /* head bytes read this way */
    } raw;
    /* A method token llhttp does not know, carried past it (see
     * feed_method); "" when llhttp parsed the method itself. */
    char method[TARGET_METHOD_MAX + 1];
    const char *feed_start;  /* start of the bytes llhttp is parsing now */
    const char *feed_end;    /* end of the bytes llhttp is parsing now */
    char feed_tail[2];       /* the two bytes parsed before feed_start */
    bool bare_cr_value;      /* llhttp took a value's leading bare CR as a line end */
    /* What of a read into the stack (conn_process_read) the input does not
     * hold yet: while llhttp runs, the piece being parsed included, as the
     * input holds it while parsing from there; for an answer completed in
     * message-complete, only what follows the message. */
    size_t unparsed;
    /* The answer was complete at message-complete: whether a next request
     * is buffered is judged once llhttp says where the message ended. */
    bool done_at_end;
    char scan_prev;          /* scan_head: last head byte seen */
    bool scan_seen, scan_done; /* scan_head: request line begun / head ended */
    bool scan_line_done;     /* scan_head: past the request line */
    bool scan_cr;            /* scan_head: the CR of the head's blank line */
    unsigned char scan_spaces; /* scan_head: spaces in the request line */
    struct deadline deadline; /* read deadline, then linger limit */
    /* Output waiting in flat memory (output.c): a block from evmem, NULL
     * when none is waiting. */
    struct {
        char *buf;
        size_t len;
    } out;
    bool flush_due;          /* in the engine's flush queue */
    TAILQ_ENTRY(conn) flush_link;
    struct event *read_ev;   /* readable socket (on_readable), added while reading */
    bool reading;            /* read_ev is added */
    bool bev_writing;        /* the bufferevent's EV_WRITE is enabled: kept here,
                              * where the hot path reads it, not in libevent's
                              * separate allocation (on_event reads it back) */
    bool read_closed;        /* EOF or error seen: nothing more to read */
    char remote[64];

    struct msghead head;     /* the request head, grown as llhttp hands it over */
    uint32_t url_off, url_len;
    struct request req;

    const struct req_handler *h;
    void *harg;
    /* req_on_done: told once when the request is over */
    void (*done)(void *arg, struct request *r, int status);
    void *done_arg;

    struct {
        bool paused;         /* req_pause_body */
        bool held;           /* req_hold: not parsed at all */
        bool done;
        bool refused;        /* over max_request_body: the rest is dropped */
        bool trailer;        /* the last chunk is in: its trailer is read */
        bool crlf_due;       /* paused at a chunk line's or data's end: is it a CRLF? */
        bool crlf_bad;       /* it was not: the body is refused */
        int64_t bytes;       /* received so far */
        int64_t drop_until;  /* dropped after the answer: past this, close (0: not dropping) */
    } body;

    /* Where each of the handler's first header lines is, recorded as it is
     * set, so the head is sorted without scanning it again. Outside resp:
     * only resp.nlines says how many are valid. */
    struct head_line {
        uint64_t key; /* the name's first 8 bytes, big-endian, zero-padded */
        uint32_t off, len, name_len;
    } lines[HEAD_LINES_INDEXED];

    struct {
        /* The handler's header lines, held until resp_start puts them
         * after the status line, sorted by name: plain memory (an evmem
         * block, grown past it by malloc), so that a header is one copy
         * and a head set in order reaches the output in one addition.
         * Freed once resp_start has copied them. */
        char *head;
        size_t head_len, head_cap;
        bool started, done, chunked;
        bool nobody;             /* HEAD, 1xx, 204, 304: framing without a body */
        bool has_date, has_type; /* the handler set them */
        bool length_in_head;     /* resp_length_in_head */
        bool close_in_head;      /* resp_close_in_head */
        bool unsorted;           /* the lines are not in name order */
        size_t nlines;           /* lines in head; lines[] indexes the first ones */
        const char *sniffed;     /* resp_sniffed_type (static) */
        int status;
        const char *reason;      /* the status line's text when not the standard one */
        uint64_t bytes;          /* body bytes answered (counted for HEAD too) */
    } resp;

    /* The request line. Where Go logs something else than the answer, what
     * it says (has_*, status 0: the answer's). */
    struct {
        bool done;
        bool off;                /* resp_no_log: no line */
        int status;              /* negative: no line */
        bool has_reason, has_size;
        int64_t size;
        char reason_text[64];    /* read only with has_reason: not reset */
    } log;
};

struct engine {
    struct engine_params p;
    struct event_base *base;
    struct evconnlistener *listener;
    LIST_HEAD(conn_list, conn) conns;
    int nconns;
    bool closing;            /* every answer closes its connection */
    bool stopped;            /* the listener is closed */
    struct event *accept_timer; /* re-enables accepting after EMFILE */
    bool accept_paused;
    /* Connections with output to write at the end of this loop iteration,
     * and the one event that writes them: one activation for all the
     * answers of an iteration rather than one each. */
    TAILQ_HEAD(flush_queue, conn) flushq;
    struct event *flush_ev;
};

/* response.c */
void resp_reset(struct conn *c);
void resp_finish_log(struct conn *c);
/* engine_parse.c */
extern const llhttp_settings_t engine_parser_settings;
/* Parse what the input holds, as far as the connection's state allows. */
void conn_process_input(struct conn *c);
/* Parse len bytes just read into memory of the caller's, then the input. */
void conn_process_read(struct conn *c, const char *data, size_t len);
/* An answer before any request head was complete: neither logged nor
 * handed to the handler. */
void conn_bare_request(struct conn *c);
void conn_scan_reset(struct conn *c);
/* Plain request heads are read without llhttp (plainreq.h); the fuzz
 * harness that compares the two turns it off. */
extern bool conn_plain_heads;
/* output.c: every byte for the client goes through these. */
void conn_out_add(struct conn *c, const void *data, size_t len);
/* An evio_gather sink: arg is the connection. */
void conn_out_sink(void *arg, const void *data, size_t len);
/* Moves all of buf. */
void conn_out_add_buf(struct conn *c, struct evbuffer *buf);
/* What is waiting in flat memory moves to the bufferevent's output, before
 * anything only an evbuffer can hold (a file) or a new owner of the
 * bufferevent. */
void conn_out_spill(struct conn *c);
/* Read len bytes of fd at offset into flat memory, after what waits there,
 * when they fit: the bytes read (fewer at the file's end), or -1 when they
 * do not fit or the read failed. */
ssize_t conn_out_pread(struct conn *c, int fd, int64_t offset, size_t len);
/* Bytes waiting for the client. */
size_t conn_out_len(const struct conn *c);
/* Write what waits in flat memory to fd; what the socket does not take
 * moves to the bufferevent's output. -1 when the socket failed, 1 when
 * something moved, 0 when all was written (or nothing waited). */
int conn_out_write_flat(struct conn *c, int fd);
void conn_out_free(struct conn *c);
/* engine.c */
/* A callback is on the stack: the connection is freed only when the
 * outermost one leaves. */
void conn_enter(struct conn *c);
void conn_leave(struct conn *c);
void conn_response_done(struct conn *c);
bool conn_closes_for_body(const struct conn *c);
void conn_close_after_answer(struct conn *c);
void conn_disarm_timer(struct conn *c);
void conn_kill(struct conn *c);
void conn_arm_timer(struct conn *c, int64_t ms);
/* The read deadline: read_timeout from now, none when read_timeout is 0. */
void conn_arm_read_timer(struct conn *c);
/* Read from the socket or not, as the connection's state asks. _empty:
 * the caller knows the input holds nothing, so it need not be asked. */
void conn_update_reading(struct conn *c);
void conn_update_reading_empty(struct conn *c);
/* Tell the handler the request is over for it (body, abort) and unlink it. */
void conn_abort_handler(struct conn *c);
void conn_abort(struct conn *c);
void conn_request_over(struct conn *c);
/* Output was queued: write it before the loop next waits. */
void conn_flush_soon(struct conn *c);

#endif
