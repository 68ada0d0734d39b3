/*
 * loadgen: the Socket.IO load generator of socketeer's benchmark suite.
 *
 * One thread, epoll, non-blocking sockets, level-triggered. It speaks just enough of the
 * protocols to drive any Socket.IO 4.x server:
 *   - HTTP/1.1 (keep-alive; Content-Length or chunked responses) for the WebSocket upgrade
 *     and Engine.IO long-polling;
 *   - WebSocket (RFC 6455): client frames are masked with a per-frame xorshift key; server
 *     pings are answered with pongs; messages must be unfragmented text frames;
 *   - Engine.IO v4: open `0{...}`, ping `2` answered with pong `3`, message `4`;
 *   - Socket.IO v5 on the main namespace: CONNECT `40`, EVENT `42[...]`, ACK `43<id>[...]`.
 *
 * Modes (one per process; results as one JSON line on stdout, events as JSON lines too):
 *   echo     N clients x K events in flight; every `42<id>["echo",payload]` answered by an
 *            ACK is counted and re-sent. Acked events/s, latency p50/p99/p999.
 *   fanout   N receivers join room "room" (`42<id>["join"]`), one controller (not in the
 *            room) emits `42["broadcast",payload]`; the server emits `news` to the room.
 *            First S single broadcasts, one at a time (time until all N got it), then
 *            sustained: at most W broadcasts not yet delivered to everyone. Deliveries/s.
 *   idle     connect `--warm` clients, print {"event":"warm"}, wait for a line on stdin,
 *            connect N more, print {"event":"ready"}, wait for a line on stdin (or --hold
 *            seconds); the driver reads the server's RSS at both points.
 *   connect  C concurrent connectors: TCP connect, WebSocket upgrade, Engine.IO open,
 *            Socket.IO CONNECT; then close (RST) and start over. Handshakes/s.
 *   polling  N clients on HTTP long-polling, one keep-alive connection each: POST K echo
 *            events in one payload, then GET until their K ACKs came back. Acked events/s.
 *
 * Every phase has a deadline; the process exits within connect-timeout + warmup +
 * duration (+ 30 s for fan-out's single broadcasts, + 2 x hold for idle). CPU time of this
 * process over the measured window (getrusage) is reported as cpu_share (1.0 = one core).
 *
 * Build: cc -O2 -Wall -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { M_ECHO, M_FANOUT, M_IDLE, M_CONNECT, M_POLLING };
enum state {
    S_FREE,
    S_CONNECTING,
    S_UPGRADE,      /* WebSocket: upgrade request sent, waiting for 101 */
    S_EIO_OPEN,     /* WebSocket: waiting for the Engine.IO open packet */
    S_SIO_CONNECT,  /* WebSocket: `40` sent, waiting for `40{"sid"...}` */
    S_READY,
    S_CLOSED,
    S_P_OPEN,         /* polling: handshake GET sent */
    S_P_POST_CONNECT, /* polling: POST `40` sent */
    S_P_GET_CONNECT,  /* polling: GET for `40{...}` sent */
};
enum role { R_ECHO, R_RECEIVER, R_CONTROLLER, R_IDLE, R_CONNECTOR, R_POLLER };
enum pstate { P_NONE, P_POST, P_GET }; /* polling client, once ready */

#define RING 128        /* per-connection send-time ring for ack ids (inflight <= 64) */
#define FRING 1024      /* fan-out: broadcasts tracked at once (window <= 512) */
#define HIST_US (1u << 21) /* latency histogram: 1 us buckets up to ~2.1 s */
#define MAX_SINGLES 1000
#define NS 1000000000ull

typedef struct conn {
    int fd;
    int state;
    int role;
    int pstate;
    int counted; /* in ready_count */
    uint32_t ev;
    uint32_t rng;
    char *rbuf;
    size_t rlen, rcap;
    char *wbuf;
    size_t wlen, woff, wcap;
    uint64_t next_id;
    uint64_t t_open;
    uint64_t batch_sent; /* polling: when the current POST went out */
    uint64_t news;       /* receiver: news events received */
    int joined;
    int acks_left;
    int pong_pending;
    int restart_queued;
    struct conn *next_restart;
    char sid[96];
    uint64_t sent_at[RING];
} conn;

static struct {
    const char *host;
    int port;
    const char *path;
    int mode;
    int clients;
    int inflight;
    double duration;
    double warmup;
    double connect_timeout;
    int concurrency;
    int payload;
    int singles;
    int window;
    int warm;
    double hold;
    long max_count;
} cfg = {"127.0.0.1", 0, "/socket.io/", M_ECHO, 50, 10, 5.0, 1.0, 60.0, 64, 32, 20, 8, 100, 60.0, 1000000};

static int ep = -1;
static conn *conns;
static int nconns;          /* allocated */
static int opened;          /* conns[0..opened) have been started */
static int target;          /* how many conns should be open now */
static int handshaking;     /* between connect() and READY */
static int ready_count;
static uint64_t now_ns, t_start;
static long errors;
static char last_error[256];
static int stopping;
static int measuring;
static uint64_t t_measure_start, t_measure_end;
static struct rusage ru_start;
static long count;           /* acks / deliveries / handshakes counted in the window */
static uint32_t *hist;
static uint64_t hist_n;
static struct sockaddr_in addr;
static char host_header[128];
static char payload_str[4096]; /* the JSON string literal, quotes included */
static conn *restart_head;
static int stdin_signals;
static int stdin_open = 1;

/* fan-out */
static conn *controller;
static int joined_count;
static uint64_t b_sent, b_completed;
static uint64_t b_sent_at[FRING];
static int b_pending[FRING];
static uint64_t singles_us[MAX_SINGLES];
static int singles_done;
static int fan_phase; /* 0 join, 1 singles, 2 sustained */

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static double secs(uint64_t ns) { return (double)ns / 1e9; }

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) die("out of memory");
    return q;
}

static uint32_t xorshift(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void hist_add(uint64_t ns) {
    uint64_t us = ns / 1000;
    if (us >= HIST_US) us = HIST_US - 1;
    hist[us]++;
    hist_n++;
}

static double hist_pct(double p) {
    if (!hist_n) return 0;
    uint64_t want = (uint64_t)(p * (double)hist_n);
    if (want >= hist_n) want = hist_n - 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_US; i++) {
        seen += hist[i];
        if (seen > want) return (double)i + 0.5;
    }
    return (double)HIST_US;
}

static void emit_event(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* ---- connection plumbing ------------------------------------------------------------ */

static void set_events(conn *c, uint32_t ev) {
    if (c->fd < 0 || c->ev == ev) return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl mod: %s", strerror(errno));
    c->ev = ev;
}

static void close_conn(conn *c) {
    if (c->fd >= 0) {
        struct linger lg = {1, 0}; /* RST: no TIME_WAIT to exhaust loopback ports */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);
        c->fd = -1;
    }
    if (c->state >= S_CONNECTING && c->state != S_READY && c->state != S_CLOSED) handshaking--;
    if (c->counted) {
        ready_count--;
        c->counted = 0;
    }
    c->state = S_CLOSED;
    c->rlen = c->wlen = c->woff = 0;
    c->ev = 0;
    c->pstate = P_NONE;
}

static void queue_restart(conn *c) {
    if (c->restart_queued) return;
    c->restart_queued = 1;
    c->next_restart = restart_head;
    restart_head = c;
}

static void fail_conn(conn *c, const char *fmt, ...) {
    if (c->state == S_CLOSED) return;
    if (!stopping) {
        errors++;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(last_error, sizeof last_error, fmt, ap);
        va_end(ap);
    }
    close_conn(c);
    if (c->role == R_CONNECTOR && !stopping) queue_restart(c);
}

static char *wreserve(conn *c, size_t n) {
    if (c->woff && c->woff == c->wlen) c->woff = c->wlen = 0;
    if (c->wcap - c->wlen < n) {
        if (c->woff) {
            memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
            c->wlen -= c->woff;
            c->woff = 0;
        }
        if (c->wcap - c->wlen < n) {
            size_t cap = c->wcap ? c->wcap : 1024;
            while (cap - c->wlen < n) cap *= 2;
            c->wbuf = xrealloc(c->wbuf, cap);
            c->wcap = cap;
        }
    }
    return c->wbuf + c->wlen;
}

static void wappend(conn *c, const char *s, size_t n) {
    memcpy(wreserve(c, n), s, n);
    c->wlen += n;
}

static void flush(conn *c) {
    while (c->fd >= 0 && c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, EPOLLIN | EPOLLOUT);
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            fail_conn(c, "send: %s", strerror(errno));
            return;
        }
    }
    if (c->fd >= 0) {
        c->woff = c->wlen = 0;
        set_events(c, EPOLLIN);
    }
}

static void ws_send_op(conn *c, int op, const char *s, size_t n) {
    char *p = wreserve(c, n + 14);
    size_t h = 0;
    p[h++] = (char)(0x80 | op);
    if (n < 126) {
        p[h++] = (char)(0x80 | n);
    } else if (n < 65536) {
        p[h++] = (char)(0x80 | 126);
        p[h++] = (char)(n >> 8);
        p[h++] = (char)(n & 0xff);
    } else {
        p[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--) p[h++] = (char)((n >> (8 * i)) & 0xff);
    }
    uint32_t key = xorshift(&c->rng);
    unsigned char mk[4];
    memcpy(mk, &key, 4);
    memcpy(p + h, mk, 4);
    h += 4;
    unsigned char *dst = (unsigned char *)p + h;
    const unsigned char *src = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) dst[i] = src[i] ^ mk[i & 3];
    c->wlen += h + n;
}

static void ws_text(conn *c, const char *s, size_t n) { ws_send_op(c, 1, s, n); }

static size_t put_u64(char *p, uint64_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

/* `42<id>["echo",payload]` into p; returns its length */
static size_t echo_packet(conn *c, char *p) {
    uint64_t id = c->next_id++;
    c->sent_at[id % RING] = now_ns;
    size_t n = 0;
    p[n++] = '4';
    p[n++] = '2';
    n += put_u64(p + n, id);
    memcpy(p + n, "[\"echo\",", 8);
    n += 8;
    size_t pl = strlen(payload_str);
    memcpy(p + n, payload_str, pl);
    n += pl;
    p[n++] = ']';
    return n;
}

static void send_echo(conn *c) {
    char buf[sizeof payload_str + 64];
    ws_text(c, buf, echo_packet(c, buf));
}

static void http_request(conn *c, const char *method, const char *body, size_t blen) {
    char head[512];
    char sidq[3 * sizeof c->sid + 8] = "";
    if (c->sid[0]) {
        size_t k = 0;
        memcpy(sidq, "&sid=", 5);
        k = 5;
        for (const char *s = c->sid; *s; s++) {
            unsigned char ch = (unsigned char)*s;
            if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                ch == '-' || ch == '_' || ch == '.' || ch == '~') {
                sidq[k++] = (char)ch;
            } else {
                k += (size_t)sprintf(sidq + k, "%%%02X", ch);
            }
        }
        sidq[k] = 0;
    }
    int n;
    if (body) {
        n = snprintf(head, sizeof head,
                     "%s %s?EIO=4&transport=polling%s HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                     method, cfg.path, sidq, host_header, blen);
    } else {
        n = snprintf(head, sizeof head, "%s %s?EIO=4&transport=polling%s HTTP/1.1\r\nHost: %s\r\n\r\n",
                     method, cfg.path, sidq, host_header);
    }
    wappend(c, head, (size_t)n);
    if (body) wappend(c, body, blen);
}

static void open_conn(conn *c) {
    c->restart_queued = 0;
    c->sid[0] = 0;
    c->joined = 0;
    c->acks_left = 0;
    c->pong_pending = 0;
    c->pstate = P_NONE;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s (raise ulimit -n)", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->t_open = now_ns;
    c->state = S_CONNECTING;
    handshaking++;
    struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    c->ev = e.events;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl add: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        fail_conn(c, "connect: %s", strerror(errno));
    }
}

static void on_connected(conn *c) {
    if (c->role == R_POLLER) {
        c->state = S_P_OPEN;
        http_request(c, "GET", NULL, 0);
    } else {
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET %s?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         cfg.path, host_header);
        wappend(c, req, (size_t)n);
        c->state = S_UPGRADE;
    }
}

/* ---- measurement window --------------------------------------------------------------- */

static void start_measuring(void) {
    measuring = 1;
    t_measure_start = now_ns;
    count = 0;
    memset(hist, 0, HIST_US * sizeof *hist);
    hist_n = 0;
    getrusage(RUSAGE_SELF, &ru_start);
    emit_event("{\"event\":\"measure_start\"}");
}

static double cpu_share(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double used = (double)(ru.ru_utime.tv_sec - ru_start.ru_utime.tv_sec) +
                  (double)(ru.ru_utime.tv_usec - ru_start.ru_utime.tv_usec) / 1e6 +
                  (double)(ru.ru_stime.tv_sec - ru_start.ru_stime.tv_sec) +
                  (double)(ru.ru_stime.tv_usec - ru_start.ru_stime.tv_usec) / 1e6;
    double wall = secs(t_measure_end - t_measure_start);
    return wall > 0 ? used / wall : 0;
}

/* ---- Socket.IO / Engine.IO handling ------------------------------------------------- */

static void on_ready(conn *c) {
    c->state = S_READY;
    handshaking--;
    ready_count++;
    c->counted = 1;
    switch (c->role) {
    case R_ECHO:
        for (int i = 0; i < cfg.inflight; i++) send_echo(c);
        break;
    case R_RECEIVER: {
        char buf[64];
        size_t n = 0;
        buf[n++] = '4';
        buf[n++] = '2';
        n += put_u64(buf + n, c->next_id++);
        memcpy(buf + n, "[\"join\"]", 8);
        n += 8;
        ws_text(c, buf, n);
        break;
    }
    case R_CONNECTOR:
        if (measuring && !stopping) {
            count++;
            hist_add(now_ns - c->t_open);
        }
        close_conn(c);
        if (!stopping) queue_restart(c);
        break;
    default:
        break;
    }
}

static void send_broadcast(void) {
    char buf[sizeof payload_str + 32];
    size_t n = 0;
    memcpy(buf, "42[\"broadcast\",", 15);
    n = 15;
    size_t pl = strlen(payload_str);
    memcpy(buf + n, payload_str, pl);
    n += pl;
    buf[n++] = ']';
    b_sent++;
    b_sent_at[b_sent % FRING] = now_ns;
    ws_text(controller, buf, n);
}

static void on_broadcast_complete(uint64_t k) {
    b_completed = k;
    if (fan_phase == 1) {
        if (singles_done < MAX_SINGLES) singles_us[singles_done] = (now_ns - b_sent_at[k % FRING]) / 1000;
        singles_done++;
        if (singles_done < cfg.singles) {
            send_broadcast();
        } else {
            fan_phase = 2;
            t_start = now_ns; /* the sustained phase's warm-up starts now */
            while (b_sent - b_completed < (uint64_t)cfg.window) send_broadcast();
        }
        flush(controller);
    } else if (fan_phase == 2 && !stopping) {
        while (b_sent - b_completed < (uint64_t)cfg.window) send_broadcast();
        flush(controller);
    }
}

static void on_news(conn *c) {
    c->news++;
    if (measuring && !stopping) count++;
    uint64_t k = c->news;
    if (k > b_sent) {
        fail_conn(c, "news event that was never broadcast");
        return;
    }
    if (++b_pending[k % FRING] == cfg.clients) {
        b_pending[k % FRING] = 0;
        on_broadcast_complete(k);
    }
}

static int parse_id(const char *p, size_t n, uint64_t *id, size_t *used) {
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') v = v * 10 + (uint64_t)(p[i++] - '0');
    if (i == 0) return -1;
    *id = v;
    *used = i;
    return 0;
}

static void on_ack(conn *c, uint64_t id) {
    switch (c->role) {
    case R_ECHO:
        if (measuring && !stopping) {
            count++;
            hist_add(now_ns - c->sent_at[id % RING]);
        }
        if (!stopping) send_echo(c);
        break;
    case R_RECEIVER:
        if (!c->joined) {
            c->joined = 1;
            joined_count++;
        }
        break;
    case R_POLLER:
        if (measuring && !stopping) {
            count++;
            hist_add(now_ns - c->sent_at[id % RING]);
        }
        c->acks_left--;
        break;
    default:
        break;
    }
}

/* a Socket.IO packet (after the Engine.IO `4`) */
static void on_sio(conn *c, const char *p, size_t n) {
    if (!n) {
        fail_conn(c, "empty socket.io packet");
        return;
    }
    switch (p[0]) {
    case '0':
        if (c->state == S_SIO_CONNECT || c->state == S_P_GET_CONNECT) {
            on_ready(c);
        }
        return;
    case '3': {
        uint64_t id;
        size_t used;
        if (parse_id(p + 1, n - 1, &id, &used) < 0) {
            fail_conn(c, "ack without id: %.*s", (int)(n < 60 ? n : 60), p);
            return;
        }
        on_ack(c, id);
        return;
    }
    case '2':
        if (c->role == R_RECEIVER && n >= 8 && memcmp(p + 1, "[\"news\"", 7) == 0) on_news(c);
        return;
    case '4':
        fail_conn(c, "connect_error: %.*s", (int)(n < 120 ? n : 120), p);
        return;
    case '1':
        fail_conn(c, "disconnected by the server");
        return;
    default:
        return;
    }
}

/* an Engine.IO packet */
static void on_eio(conn *c, const char *p, size_t n) {
    if (!n) return;
    switch (p[0]) {
    case '0':
        if (c->state == S_EIO_OPEN) {
            ws_text(c, "40", 2);
            c->state = S_SIO_CONNECT;
        } else if (c->state == S_P_OPEN) {
            const char *s = memmem(p, n, "\"sid\":\"", 7);
            if (!s) {
                fail_conn(c, "open packet without sid");
                return;
            }
            s += 7;
            size_t k = 0;
            while (s < p + n && *s != '"' && k + 1 < sizeof c->sid) c->sid[k++] = *s++;
            c->sid[k] = 0;
        }
        return;
    case '2':
        if (c->role == R_POLLER) c->pong_pending = 1;
        else ws_text(c, "3", 1);
        return;
    case '4':
        on_sio(c, p + 1, n - 1);
        return;
    case '1':
        fail_conn(c, "engine.io close packet");
        return;
    default: /* 3 pong, 6 noop */
        return;
    }
}

static void consume(conn *c, size_t n) {
    if (n >= c->rlen) {
        c->rlen = 0;
    } else if (n) {
        memmove(c->rbuf, c->rbuf + n, c->rlen - n);
        c->rlen -= n;
    }
}

static void process_ws(conn *c) {
    size_t off = 0;
    while (c->state != S_CLOSED) {
        size_t avail = c->rlen - off;
        if (avail < 2) break;
        unsigned char *p = (unsigned char *)c->rbuf + off;
        int fin = p[0] & 0x80, op = p[0] & 0x0f, masked = p[1] & 0x80;
        uint64_t len = p[1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = ((uint64_t)p[2] << 8) | p[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
            h = 10;
        }
        if (len > (64u << 20)) {
            fail_conn(c, "websocket frame of %llu bytes", (unsigned long long)len);
            return;
        }
        if (masked) h += 4;
        if (avail < h + len) break;
        char *payload = (char *)p + h;
        if (masked) {
            for (uint64_t i = 0; i < len; i++) payload[i] ^= (char)p[h - 4 + (i & 3)];
        }
        off += h + (size_t)len;
        if (!fin || op == 0) {
            fail_conn(c, "fragmented websocket message (unsupported)");
            return;
        }
        switch (op) {
        case 1:
            on_eio(c, payload, (size_t)len);
            break;
        case 8:
            fail_conn(c, "websocket closed by the server");
            return;
        case 9:
            ws_send_op(c, 10, payload, (size_t)len);
            break;
        default: /* binary, pong */
            break;
        }
    }
    if (c->state != S_CLOSED) consume(c, off);
}

/* Parses one HTTP response at the start of buf. Returns bytes used, 0 when incomplete,
 * -1 when malformed. The body is in place (Content-Length) or decoded into *scratch. */
static long parse_http(char *buf, size_t len, int *status, char **body, size_t *blen, char **scratch,
                       size_t *scap) {
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) return len > 65536 ? -1 : 0;
    size_t hlen = (size_t)(end - buf) + 4;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(buf + 9);
    long clen = -1;
    int chunked = 0;
    for (char *line = memchr(buf, '\n', hlen); line && line < end; line = memchr(line, '\n', (size_t)(end - line))) {
        line++;
        if (strncasecmp(line, "content-length:", 15) == 0) clen = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
            char *eol = memchr(line, '\r', (size_t)(end + 2 - line));
            if (eol && memmem(line, (size_t)(eol - line), "chunked", 7)) chunked = 1;
        }
    }
    if (*status == 101) {
        *body = buf + hlen;
        *blen = 0;
        return (long)hlen;
    }
    if (chunked) {
        size_t pos = hlen, out = 0;
        for (;;) {
            char *eol = memmem(buf + pos, len - pos, "\r\n", 2);
            if (!eol) return 0;
            size_t sz = strtoul(buf + pos, NULL, 16);
            pos = (size_t)(eol - buf) + 2;
            if (sz == 0) {
                if (len - pos < 2) return 0;
                pos += 2; /* no trailers expected */
                break;
            }
            if (len - pos < sz + 2) return 0;
            if (*scap < out + sz) {
                *scap = (out + sz) * 2;
                *scratch = xrealloc(*scratch, *scap);
            }
            memcpy(*scratch + out, buf + pos, sz);
            out += sz;
            pos += sz + 2;
        }
        *body = *scratch;
        *blen = out;
        return (long)pos;
    }
    if (clen < 0) clen = 0;
    if (len < hlen + (size_t)clen) return 0;
    *body = buf + hlen;
    *blen = (size_t)clen;
    return (long)(hlen + (size_t)clen);
}

static char *scratch;
static size_t scap;

static void poll_send_batch(conn *c) {
    static char body[(sizeof payload_str + 64) * 65];
    size_t n = 0;
    if (c->pong_pending) {
        body[n++] = '3';
        body[n++] = 0x1e;
        c->pong_pending = 0;
    }
    for (int i = 0; i < cfg.inflight; i++) {
        if (i) body[n++] = 0x1e;
        n += echo_packet(c, body + n);
    }
    c->acks_left = cfg.inflight;
    c->batch_sent = now_ns;
    c->pstate = P_POST;
    http_request(c, "POST", body, n);
}

static void on_http(conn *c, int status, const char *body, size_t blen) {
    if (status != 200) {
        fail_conn(c, "HTTP %d: %.*s", status, (int)(blen < 120 ? blen : 120), body);
        return;
    }
    if (c->state == S_P_POST_CONNECT) { /* "ok" for `40` */
        c->state = S_P_GET_CONNECT;
        http_request(c, "GET", NULL, 0);
        return;
    }
    if (c->state == S_READY && c->pstate == P_POST) { /* "ok" */
        c->pstate = P_GET;
        http_request(c, "GET", NULL, 0);
        return;
    }
    /* a GET: a payload of packets separated by 0x1e */
    size_t start = 0;
    for (size_t i = 0; i <= blen && c->state != S_CLOSED; i++) {
        if (i == blen || body[i] == 0x1e) {
            on_eio(c, body + start, i - start);
            start = i + 1;
        }
    }
    if (c->state == S_CLOSED) return;
    if (c->state == S_P_OPEN) {
        if (!c->sid[0]) {
            fail_conn(c, "no open packet in the handshake response");
            return;
        }
        c->state = S_P_POST_CONNECT;
        http_request(c, "POST", "40", 2);
    } else if (c->state == S_P_GET_CONNECT) {
        http_request(c, "GET", NULL, 0); /* `40{...}` not there yet */
    } else if (c->state == S_READY) {
        if (stopping) return;
        if (c->pstate == P_NONE || c->acks_left <= 0) {
            poll_send_batch(c); /* just connected, or every ack of the batch is in */
        } else if (c->pong_pending) {
            c->pong_pending = 0;
            c->pstate = P_POST;
            http_request(c, "POST", "3", 1);
        } else {
            http_request(c, "GET", NULL, 0);
        }
    }
}

static void process_http(conn *c) {
    size_t off = 0;
    while (c->state != S_CLOSED && off < c->rlen) {
        int status;
        char *body;
        size_t blen;
        long used = parse_http(c->rbuf + off, c->rlen - off, &status, &body, &blen, &scratch, &scap);
        if (used == 0) break;
        if (used < 0) {
            fail_conn(c, "malformed HTTP response");
            return;
        }
        off += (size_t)used;
        if (c->state == S_UPGRADE) {
            if (status != 101) {
                fail_conn(c, "upgrade refused: HTTP %d", status);
                return;
            }
            c->state = S_EIO_OPEN;
            consume(c, off);
            process_ws(c);
            return;
        }
        on_http(c, status, body, blen);
    }
    if (c->state != S_CLOSED) consume(c, off);
}

static void on_readable(conn *c) {
    for (;;) {
        if (c->rcap - c->rlen < 2048) {
            c->rcap = c->rcap ? c->rcap * 2 : 4096;
            c->rbuf = xrealloc(c->rbuf, c->rcap);
        }
        size_t space = c->rcap - c->rlen;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, space, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            if ((size_t)n < space) break;
        } else if (n == 0) {
            fail_conn(c, "connection closed by the server (state %d)", c->state);
            return;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else if (errno == EINTR) {
            continue;
        } else {
            fail_conn(c, "recv: %s", strerror(errno));
            return;
        }
    }
    if (c->state == S_UPGRADE || c->role == R_POLLER) process_http(c);
    else process_ws(c);
}

static void on_event(conn *c, uint32_t ev) {
    if (c->state == S_CLOSED || c->fd < 0) return;
    if (c->state == S_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            fail_conn(c, "connect: %s", strerror(err));
            return;
        }
        on_connected(c);
        flush(c);
        return;
    }
    if (ev & EPOLLIN) on_readable(c);
    else if (ev & (EPOLLERR | EPOLLHUP)) {
        fail_conn(c, "socket error/hangup (state %d)", c->state);
        return;
    }
    if (c->state != S_CLOSED && c->fd >= 0) flush(c);
}

/* ---- main loop -------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen MODE --port P [--host H] [--path /socket.io/] [--clients N]\n"
            "               [--inflight K] [--duration S] [--warmup S] [--connect-timeout S]\n"
            "               [--concurrency C] [--payload BYTES] [--singles S] [--window W]\n"
            "               [--warm N] [--hold S] [--max-count N]\n"
            "MODE: echo | fanout | idle | connect | polling\n");
    exit(2);
}

static void open_more(void) {
    while (opened < target && handshaking < cfg.concurrency) open_conn(&conns[opened++]);
}

static void read_stdin(void) {
    char buf[256];
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) {
        stdin_open = 0;
        epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
        stdin_signals += 100;
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n') stdin_signals++;
}

static void print_result(void) {
    double dur = secs(t_measure_end - t_measure_start);
    printf("{\"event\":\"result\",\"mode\":\"%s\",\"clients\":%d,\"inflight\":%d,\"duration\":%.4f,"
           "\"count\":%ld,\"rate\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
           "\"samples\":%llu,\"cpu_share\":%.4f,\"errors\":%ld,\"connected\":%d",
           cfg.mode == M_ECHO      ? "echo"
           : cfg.mode == M_FANOUT  ? "fanout"
           : cfg.mode == M_IDLE    ? "idle"
           : cfg.mode == M_CONNECT ? "connect"
                                   : "polling",
           cfg.clients, cfg.inflight, dur, count, dur > 0 ? (double)count / dur : 0, hist_pct(0.5),
           hist_pct(0.99), hist_pct(0.999), (unsigned long long)hist_n, cpu_share(), errors, ready_count);
    if (cfg.mode == M_FANOUT) {
        printf(",\"singles_us\":[");
        for (int i = 0; i < singles_done && i < MAX_SINGLES; i++) printf("%s%llu", i ? "," : "", (unsigned long long)singles_us[i]);
        printf("],\"broadcasts\":%llu", (unsigned long long)b_completed);
    }
    printf(",\"last_error\":\"");
    for (const char *s = last_error; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar((unsigned char)*s >= 0x20 ? *s : '?');
    }
    printf("\"}\n");
    fflush(stdout);
}

static void finish(int code) {
    stopping = 1;
    if (!t_measure_end) t_measure_end = now_ns;
    print_result();
    for (int i = 0; i < opened; i++) close_conn(&conns[i]);
    if (controller) close_conn(controller);
    exit(code);
}

static void timeout_exit(const char *what) {
    snprintf(last_error, sizeof last_error, "timeout: %s (ready %d, handshaking %d)", what, ready_count, handshaking);
    errors++;
    if (!t_measure_start) t_measure_start = now_ns;
    t_measure_end = now_ns;
    finish(3);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *m = argv[1];
    if (!strcmp(m, "echo")) cfg.mode = M_ECHO;
    else if (!strcmp(m, "fanout")) cfg.mode = M_FANOUT;
    else if (!strcmp(m, "idle")) cfg.mode = M_IDLE;
    else if (!strcmp(m, "connect")) cfg.mode = M_CONNECT;
    else if (!strcmp(m, "polling")) cfg.mode = M_POLLING;
    else usage();
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(k, "--host")) cfg.host = v;
        else if (!strcmp(k, "--port")) cfg.port = atoi(v);
        else if (!strcmp(k, "--path")) cfg.path = v;
        else if (!strcmp(k, "--clients")) cfg.clients = atoi(v);
        else if (!strcmp(k, "--inflight")) cfg.inflight = atoi(v);
        else if (!strcmp(k, "--duration")) cfg.duration = atof(v);
        else if (!strcmp(k, "--warmup")) cfg.warmup = atof(v);
        else if (!strcmp(k, "--connect-timeout")) cfg.connect_timeout = atof(v);
        else if (!strcmp(k, "--concurrency")) cfg.concurrency = atoi(v);
        else if (!strcmp(k, "--payload")) cfg.payload = atoi(v);
        else if (!strcmp(k, "--singles")) cfg.singles = atoi(v);
        else if (!strcmp(k, "--window")) cfg.window = atoi(v);
        else if (!strcmp(k, "--warm")) cfg.warm = atoi(v);
        else if (!strcmp(k, "--hold")) cfg.hold = atof(v);
        else if (!strcmp(k, "--max-count")) cfg.max_count = atol(v);
        else usage();
    }
    if (cfg.port <= 0 || cfg.clients < 1 || cfg.inflight < 1 || cfg.inflight > 64 || cfg.duration <= 0 ||
        cfg.concurrency < 1 || cfg.payload < 0 || cfg.payload > 4000 || cfg.singles < 0 ||
        cfg.singles > MAX_SINGLES || cfg.window < 1 || cfg.window > FRING / 2 || cfg.warm < 0)
        usage();

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.host, &addr.sin_addr) != 1) die("bad host %s", cfg.host);
    snprintf(host_header, sizeof host_header, "%s:%d", cfg.host, cfg.port);
    payload_str[0] = '"';
    for (int i = 0; i < cfg.payload; i++) payload_str[1 + i] = (char)('a' + i % 26);
    payload_str[cfg.payload + 1] = '"';
    payload_str[cfg.payload + 2] = 0;

    hist = calloc(HIST_US, sizeof *hist);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!hist || ep < 0) die("setup failed");

    int role = R_ECHO;
    switch (cfg.mode) {
    case M_ECHO: nconns = cfg.clients; role = R_ECHO; break;
    case M_FANOUT: nconns = cfg.clients + 1; role = R_RECEIVER; break;
    case M_IDLE: nconns = cfg.clients + cfg.warm; role = R_IDLE; break;
    case M_CONNECT: nconns = cfg.concurrency; role = R_CONNECTOR; break;
    case M_POLLING: nconns = cfg.clients; role = R_POLLER; break;
    }
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!conns) die("out of memory");
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].role = role;
        conns[i].rng = 0x9e3779b9u ^ (uint32_t)(i * 2654435761u) ^ (uint32_t)getpid();
        if (!conns[i].rng) conns[i].rng = 1;
        conns[i].next_id = 1;
    }
    if (cfg.mode == M_FANOUT) {
        controller = &conns[cfg.clients];
        controller->role = R_CONTROLLER;
    }
    struct epoll_event se = {.events = EPOLLIN, .data.ptr = NULL};
    if (cfg.mode == M_IDLE && epoll_ctl(ep, EPOLL_CTL_ADD, 0, &se) < 0) stdin_open = 0;

    now_ns = mono_ns();
    t_start = now_ns;
    uint64_t connect_deadline = now_ns + (uint64_t)(cfg.connect_timeout * 1e9);
    uint64_t all_ready_at = 0;
    int idle_phase = 0; /* 0 warm connects, 1 wait, 2 connects, 3 hold */
    uint64_t idle_wait_until = 0;
    uint64_t idle_connect_start = 0;
    double idle_connect_s = 0;

    target = cfg.mode == M_IDLE ? cfg.warm : nconns;
    if (cfg.mode == M_CONNECT) {
        for (int i = 0; i < nconns; i++) open_conn(&conns[opened++]);
    }
    struct epoll_event evs[512];
    for (;;) {
        open_more();
        int n = epoll_wait(ep, evs, 512, 5);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        now_ns = mono_ns();
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                read_stdin();
                continue;
            }
            on_event(evs[i].data.ptr, evs[i].events);
        }
        while (restart_head) {
            conn *c = restart_head;
            restart_head = c->next_restart;
            c->restart_queued = 0;
            if (!stopping && count < cfg.max_count) {
                open_conn(c);
            }
        }

        switch (cfg.mode) {
        case M_ECHO:
        case M_POLLING:
            if (!all_ready_at) {
                if (ready_count == nconns) all_ready_at = now_ns;
                else if (now_ns > connect_deadline) timeout_exit("connecting");
                else if (opened == nconns && handshaking == 0 && ready_count < nconns)
                    timeout_exit("connections failed");
            } else if (!measuring && now_ns >= all_ready_at + (uint64_t)(cfg.warmup * 1e9)) {
                start_measuring();
            } else if (measuring && now_ns >= t_measure_start + (uint64_t)(cfg.duration * 1e9)) {
                t_measure_end = now_ns;
                finish(errors ? 1 : 0);
            }
            break;
        case M_CONNECT:
            if (errors > 1000 && errors > 10 * (count + 1)) timeout_exit("handshakes keep failing");
            if (!measuring && now_ns >= t_start + (uint64_t)(cfg.warmup * 1e9)) start_measuring();
            else if (measuring && (now_ns >= t_measure_start + (uint64_t)(cfg.duration * 1e9) ||
                                   count >= cfg.max_count)) {
                t_measure_end = now_ns;
                finish(errors ? 1 : 0);
            }
            break;
        case M_FANOUT:
            if (fan_phase == 0) {
                if (joined_count == cfg.clients && controller->state == S_READY) {
                    fan_phase = 1;
                    t_start = now_ns;
                    if (cfg.singles > 0) {
                        send_broadcast();
                    } else {
                        fan_phase = 2;
                        while (b_sent - b_completed < (uint64_t)cfg.window) send_broadcast();
                    }
                    flush(controller);
                } else if (now_ns > connect_deadline) {
                    timeout_exit("connecting and joining");
                } else if (opened == nconns && handshaking == 0 && ready_count < nconns) {
                    timeout_exit("connections failed");
                }
            } else if (fan_phase == 1) {
                if (now_ns > t_start + 30 * NS) timeout_exit("single broadcasts");
                if (controller->state == S_CLOSED) timeout_exit("controller lost");
            } else {
                if (!measuring && now_ns >= t_start + (uint64_t)(cfg.warmup * 1e9)) start_measuring();
                else if (measuring && now_ns >= t_measure_start + (uint64_t)(cfg.duration * 1e9)) {
                    t_measure_end = now_ns;
                    finish(errors ? 1 : 0);
                }
                if (controller->state == S_CLOSED) timeout_exit("controller lost");
            }
            break;
        case M_IDLE:
            if (idle_phase == 0 || idle_phase == 2) {
                int want = idle_phase == 0 ? cfg.warm : cfg.warm + cfg.clients;
                if (ready_count >= want) {
                    if (idle_phase == 0) {
                        emit_event("{\"event\":\"warm\",\"connected\":%d}", ready_count);
                    } else {
                        idle_connect_s = secs(now_ns - idle_connect_start);
                        emit_event("{\"event\":\"ready\",\"connected\":%d,\"connect_s\":%.3f}", ready_count,
                                   idle_connect_s);
                    }
                    idle_phase++;
                    idle_wait_until = now_ns + (uint64_t)(cfg.hold * 1e9);
                } else if (now_ns > connect_deadline) {
                    timeout_exit("connecting");
                } else if (opened == target && handshaking == 0) {
                    timeout_exit("connections failed");
                }
            } else {
                if (stdin_signals > 0 || now_ns > idle_wait_until) {
                    if (stdin_signals > 0 && stdin_open) stdin_signals--;
                    if (idle_phase == 1) {
                        idle_phase = 2;
                        target = cfg.warm + cfg.clients;
                        idle_connect_start = now_ns;
                        getrusage(RUSAGE_SELF, &ru_start);
                        connect_deadline = now_ns + (uint64_t)(cfg.connect_timeout * 1e9);
                    } else {
                        t_measure_start = idle_connect_start;
                        t_measure_end = idle_connect_start + (uint64_t)(idle_connect_s * 1e9);
                        count = cfg.clients;
                        finish(errors ? 1 : 0);
                    }
                }
            }
            break;
        }
    }
}
