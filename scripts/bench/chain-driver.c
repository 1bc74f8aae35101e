// The chain bench's lean Kong-side RPC driver (scripts/bench/chain.ts compiles it with `gcc -O2` at run time).
//
// The Node side pre-encodes every recorded request frame into a file (see writeDriverFrames in chain.ts): each frame
// carries a fixed-width uint32 msgid and, for a Step, a fixed-width uint32 event id, at known offsets, so this driver
// only patches bytes. It keeps `concurrency` requests in flight over LIFO connection pools per socket (as nginx's
// keep-alive pool hands them out and the JS driver does), one request per connection at a time, one write per call,
// and checks that each reply names the recorded PDK method (or "ret"), answering an extra kong.log.* call with a bare
// Step as the JS driver does. Commands on stdin: `run N` replays N requests and prints one line
// `ok <seconds> <rpcs> <steps> <forwarded steps> <driver CPU µs>`; end of stdin exits.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NO_OFFSET 0xffffffffu
#define MAX_EVENTS_PER_REQUEST 64

static void die(const char *fmt, const char *detail) {
  fprintf(stderr, "chain-driver: ");
  fprintf(stderr, fmt, detail);
  fprintf(stderr, "\n");
  exit(1);
}

// ------------------------------------------------------------------------------------------------ the frames file

typedef struct {
  uint8_t *frame;
  uint32_t len, msgid_off, event_off; // event_off: NO_OFFSET for a HandleEvent
  uint32_t socket, is_step, rec_event;
  const uint8_t *name; // expected method name ("ret" for a handler's return); NULL: no name expected
  uint32_t name_len;
} Call;

typedef struct {
  Call *calls;
  uint32_t ncalls;
} Request;

typedef struct Conn Conn;

typedef struct {
  char path[108];
  Call bare_step; // a Step without data, answering an extra log call
  Conn **idle;    // LIFO stack
  uint32_t nidle, cap;
} Socket;

static uint8_t *file;
static size_t file_len, file_pos;
static uint32_t echo_target, workers, nsockets, nrequests;
static Socket *sockets;
static Request *requests;

static uint32_t rd32(void) {
  if (file_pos + 4 > file_len) die("%s: truncated frames file", "");
  uint32_t v;
  memcpy(&v, file + file_pos, 4);
  file_pos += 4;
  return v;
}

static uint8_t *rdbytes(uint32_t n) {
  if (file_pos + n > file_len) die("%s: truncated frames file", "");
  uint8_t *p = file + file_pos;
  file_pos += n;
  return p;
}

static void read_call(Call *c) {
  c->socket = rd32();
  c->is_step = rd32();
  c->rec_event = rd32();
  c->len = rd32();
  c->frame = rdbytes(c->len);
  c->msgid_off = rd32();
  c->event_off = rd32();
  c->name_len = rd32();
  c->name = c->name_len == NO_OFFSET ? NULL : rdbytes(c->name_len);
  if (c->socket >= nsockets) die("%s: bad socket index", "");
}

static void load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  file_len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  file = malloc(file_len);
  if (fread(file, 1, file_len, f) != file_len) die("cannot read %s", path);
  fclose(f);
  if (rd32() != 0x31445742) die("%s: not a driver frames file", path); // "BWD1"
  echo_target = rd32();
  workers = rd32();
  nsockets = rd32();
  sockets = calloc(nsockets, sizeof(Socket));
  for (uint32_t i = 0; i < nsockets; i++) {
    uint32_t n = rd32();
    if (n >= sizeof(sockets[i].path)) die("%s: socket path too long", "");
    memcpy(sockets[i].path, rdbytes(n), n);
    read_call(&sockets[i].bare_step);
  }
  nrequests = rd32();
  requests = calloc(nrequests, sizeof(Request));
  for (uint32_t i = 0; i < nrequests; i++) {
    requests[i].ncalls = rd32();
    requests[i].calls = calloc(requests[i].ncalls, sizeof(Call));
    for (uint32_t k = 0; k < requests[i].ncalls; k++) read_call(&requests[i].calls[k]);
  }
}

// ------------------------------------------------------------------------------------------------ MessagePack

static int malformed;

static uint32_t be16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/** The end of the value at p, or NULL when it is incomplete (malformed: sets `malformed`). */
static const uint8_t *skip(const uint8_t *p, const uint8_t *e) {
  if (p >= e) return NULL;
  uint8_t b = *p++;
  uint64_t n;
  if (b <= 0x7f || b >= 0xe0) return p;
  if (b <= 0x8f) {
    n = (uint64_t)(b & 0x0f) * 2;
    goto items;
  }
  if (b <= 0x9f) {
    n = b & 0x0f;
    goto items;
  }
  if (b <= 0xbf) {
    n = b & 0x1f;
    goto bytes;
  }
#define NEED(k) \
  if (e - p < (k)) return NULL
  switch (b) {
  case 0xc0: case 0xc2: case 0xc3: return p;
  case 0xc4: case 0xd9: NEED(1); n = p[0]; p += 1; goto bytes;
  case 0xc5: case 0xda: NEED(2); n = be16(p); p += 2; goto bytes;
  case 0xc6: case 0xdb: NEED(4); n = be32(p); p += 4; goto bytes;
  case 0xc7: NEED(1); n = (uint64_t)p[0] + 1; p += 1; goto bytes;
  case 0xc8: NEED(2); n = (uint64_t)be16(p) + 1; p += 2; goto bytes;
  case 0xc9: NEED(4); n = (uint64_t)be32(p) + 1; p += 4; goto bytes;
  case 0xcc: case 0xd0: n = 1; goto bytes;
  case 0xcd: case 0xd1: n = 2; goto bytes;
  case 0xca: case 0xce: case 0xd2: n = 4; goto bytes;
  case 0xcb: case 0xcf: case 0xd3: n = 8; goto bytes;
  case 0xd4: n = 2; goto bytes;
  case 0xd5: n = 3; goto bytes;
  case 0xd6: n = 5; goto bytes;
  case 0xd7: n = 9; goto bytes;
  case 0xd8: n = 17; goto bytes;
  case 0xdc: NEED(2); n = be16(p); p += 2; goto items;
  case 0xdd: NEED(4); n = be32(p); p += 4; goto items;
  case 0xde: NEED(2); n = (uint64_t)be16(p) * 2; p += 2; goto items;
  case 0xdf: NEED(4); n = (uint64_t)be32(p) * 2; p += 4; goto items;
  default: malformed = 1; return NULL;
  }
#undef NEED
bytes:
  if ((uint64_t)(e - p) < n) return NULL;
  return p + n;
items:
  while (n-- > 0) {
    p = skip(p, e);
    if (!p) return NULL;
  }
  return p;
}

/** A string's bytes (s, len) at p; 0 when the value is not a string. */
static int str_at(const uint8_t *p, const uint8_t *e, const uint8_t **s, uint32_t *len) {
  uint8_t b = *p;
  if (b >= 0xa0 && b <= 0xbf) *len = b & 0x1f, *s = p + 1;
  else if (b == 0xd9 && e - p >= 2) *len = p[1], *s = p + 2;
  else if (b == 0xda && e - p >= 3) *len = be16(p + 1), *s = p + 3;
  else if (b == 0xdb && e - p >= 5) *len = be32(p + 1), *s = p + 5;
  else return 0;
  return *s + *len <= e;
}

static int uint_at(const uint8_t *p, uint64_t *v) {
  uint8_t b = *p;
  if (b <= 0x7f) *v = b;
  else if (b == 0xcc) *v = p[1];
  else if (b == 0xcd) *v = be16(p + 1);
  else if (b == 0xce) *v = be32(p + 1);
  else if (b == 0xcf) *v = ((uint64_t)be32(p + 1) << 32) | be32(p + 5);
  else return 0;
  return 1;
}

static int key_is(const uint8_t *p, const uint8_t *e, const char *key) {
  const uint8_t *s;
  uint32_t len;
  return str_at(p, e, &s, &len) && len == strlen(key) && memcmp(s, key, len) == 0;
}

/** The entries of the map at p: calls visit(key, value) for each; 0 when p is not a map. */
static uint32_t map_header(const uint8_t **p, const uint8_t *e) {
  uint8_t b = **p;
  if (b >= 0x80 && b <= 0x8f) return (*p += 1, b & 0x0f);
  if (b == 0xde && e - *p >= 3) return *p += 3, be16(*p - 2);
  if (b == 0xdf && e - *p >= 5) return *p += 5, be32(*p - 4);
  return 0;
}

typedef struct {
  int has_event;
  uint64_t event;
  const uint8_t *name; // NULL: none
  uint32_t name_len;
} Reply;

/** [1, msgid, err, {EventId, Data: "ret" | {Method, ...}}]: dies on an error reply. */
static void parse_reply(const uint8_t *p, const uint8_t *e, Reply *r) {
  memset(r, 0, sizeof(*r));
  if (*p != 0x94) die("%s: reply is not a 4-element array", "");
  p++;
  p = skip(p, e); // type
  p = skip(p, e); // msgid
  if (*p != 0xc0) {
    const uint8_t *s;
    uint32_t len;
    char msg[512] = "(not a string)";
    if (str_at(p, e, &s, &len)) snprintf(msg, sizeof(msg), "%.*s", (int)len, (const char *)s);
    die("error reply: %s", msg);
  }
  p++;
  uint32_t n = map_header(&p, e);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *value = skip(p, e);
    if (key_is(p, e, "EventId")) {
      r->has_event = uint_at(value, &r->event);
    } else if (key_is(p, e, "Data")) {
      if (!str_at(value, e, &r->name, &r->name_len)) {
        const uint8_t *q = value;
        uint32_t m = map_header(&q, e);
        for (uint32_t k = 0; k < m; k++) {
          const uint8_t *v = skip(q, e);
          if (key_is(q, e, "Method")) {
            if (!str_at(v, e, &r->name, &r->name_len)) r->name = NULL;
            break;
          }
          q = skip(v, e);
        }
      }
    }
    p = skip(value, e);
  }
}

// ------------------------------------------------------------------------------------------------ connections

struct Conn {
  int fd, worker, slot;
  uint32_t socket;
  uint8_t *buf;
  size_t len, cap;
};

typedef struct {
  int active, in_log_step;
  uint32_t req, call, extra, nev;
  uint32_t rec[MAX_EVENTS_PER_REQUEST], srv[MAX_EVENTS_PER_REQUEST];
} Slot;

static int epfd;
static Slot *slots;
static uint32_t concurrency, msgid;
static uint64_t started, finished, target, rpcs, steps, forwarded;

static Conn *take_conn(uint32_t si) {
  Socket *s = &sockets[si];
  if (s->nidle > 0) return s->idle[--s->nidle];
  Conn *c = calloc(1, sizeof(Conn));
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  memcpy(a.sun_path, s->path, sizeof(s->path));
  if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) die("cannot connect to %s", s->path);
  c->worker = -1;
  c->socket = si;
  c->cap = 65536;
  c->buf = malloc(c->cap);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("%s: epoll_ctl", "");
  return c;
}

static void give_back(Conn *c) {
  Socket *s = &sockets[c->socket];
  if (s->nidle == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    s->idle = realloc(s->idle, s->cap * sizeof(Conn *));
  }
  s->idle[s->nidle++] = c;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static void send_call(Conn *c, Call *call, uint32_t event, int slot) {
  put_be32(call->frame + call->msgid_off, ++msgid);
  if (call->event_off != NO_OFFSET) {
    put_be32(call->frame + call->event_off, event);
    if (workers > 1) {
      steps++;
      if (c->worker >= 0 && event % workers != (uint32_t)c->worker) forwarded++;
    }
  }
  c->slot = slot;
  const uint8_t *p = call->frame;
  size_t left = call->len;
  while (left > 0) { // a blocking socket: Kong writes each call whole too
    ssize_t n = write(c->fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("write: %s", strerror(errno));
    p += n, left -= (size_t)n;
  }
}

/** Sends the slot's current call of its request on a pooled connection. */
static void issue(int i) {
  Slot *s = &slots[i];
  Call *call = &requests[s->req].calls[s->call];
  uint32_t event = 0;
  if (call->is_step) {
    if (echo_target) event = call->rec_event;
    else {
      uint32_t k = 0;
      while (k < s->nev && s->rec[k] != call->rec_event) k++;
      if (k == s->nev) die("%s: a Step before its HandleEvent in the recording", "");
      event = s->srv[k];
    }
  }
  send_call(take_conn(call->socket), call, event, i);
}

static void start_request(int i) {
  Slot *s = &slots[i];
  if (started >= target) {
    s->active = 0;
    return;
  }
  s->active = 1;
  s->req = (uint32_t)(started++ % nrequests);
  s->call = 0;
  s->extra = 0;
  s->nev = 0;
  issue(i);
}

static void on_reply(Conn *c, const uint8_t *msg, const uint8_t *end) {
  Slot *s = &slots[c->slot];
  Request *req = &requests[s->req];
  Call *call = &req->calls[s->call];
  if (!echo_target) {
    Reply r;
    parse_reply(msg, end, &r);
    // A HandleEvent is never forwarded: the worker that answers it owns the event (id ≡ worker mod N).
    if (workers > 1 && !call->is_step && !s->in_log_step && r.has_event) c->worker = (int)(r.event % workers);
    int same = (r.name == NULL) == (call->name == NULL) &&
               (r.name == NULL || (r.name_len == call->name_len && memcmp(r.name, call->name, r.name_len) == 0));
    if (!same) {
      // A log line the recording does not have (e.g. a one-time notice of a fresh process): answered like Kong, nil.
      if (r.name && r.name_len > 9 && memcmp(r.name, "kong.log.", 9) == 0 && r.has_event) {
        s->extra++;
        s->in_log_step = 1;
        send_call(c, &sockets[c->socket].bare_step, (uint32_t)r.event, c->slot);
        return;
      }
      char msg2[600];
      snprintf(msg2, sizeof(msg2), "got %.*s, recorded %.*s", r.name ? (int)r.name_len : 4,
               r.name ? (const char *)r.name : "none", call->name ? (int)call->name_len : 4,
               call->name ? (const char *)call->name : "none");
      die("replay diverged: %s", msg2);
    }
    if (!call->is_step) {
      if (!r.has_event) die("%s: HandleEvent reply without EventId", "");
      if (s->nev == MAX_EVENTS_PER_REQUEST) die("%s: too many events in one request", "");
      s->rec[s->nev] = call->rec_event;
      s->srv[s->nev++] = (uint32_t)r.event;
    }
  }
  s->in_log_step = 0;
  give_back(c);
  if (++s->call == req->ncalls) {
    rpcs += req->ncalls + s->extra;
    finished++;
    start_request(c->slot);
  } else {
    issue(c->slot);
  }
}

static void on_readable(Conn *c) {
  if (c->len == c->cap) {
    c->cap *= 2;
    c->buf = realloc(c->buf, c->cap);
  }
  ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) die("connection to %s closed", sockets[c->socket].path);
  c->len += (size_t)n;
  const uint8_t *end = skip(c->buf, c->buf + c->len);
  if (!end) {
    if (malformed) die("%s: malformed reply", "");
    return; // incomplete: wait for the rest
  }
  if (end != c->buf + c->len) die("%s: more than one reply on a connection with one call in flight", "");
  c->len = 0;
  on_reply(c, c->buf, end);
}

static double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static void run(uint64_t n) {
  struct timespec t0, t1;
  double cpu0 = cpu_us();
  clock_gettime(CLOCK_MONOTONIC, &t0);
  started = finished = rpcs = steps = forwarded = 0;
  target = n;
  for (uint32_t i = 0; i < concurrency; i++) start_request((int)i);
  struct epoll_event evs[64];
  while (finished < target) {
    int k = epoll_wait(epfd, evs, 64, 60000);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) die("%s: no reply for 60 s", "");
    for (int j = 0; j < k; j++) on_readable(evs[j].data.ptr);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("ok %.6f %llu %llu %llu %.0f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
         (unsigned long long)rpcs, (unsigned long long)steps, (unsigned long long)forwarded, cpu_us() - cpu0);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 3) die("%s", "usage: chain-driver <frames file> <concurrency>");
  load(argv[1]);
  concurrency = (uint32_t)atoi(argv[2]);
  if (concurrency == 0) die("%s: concurrency must be > 0", "");
  slots = calloc(concurrency, sizeof(Slot));
  epfd = epoll_create1(EPOLL_CLOEXEC);
  char line[128];
  while (fgets(line, sizeof(line), stdin)) {
    unsigned long long n;
    if (sscanf(line, "run %llu", &n) == 1) run(n);
    else die("unknown command: %s", line);
  }
  return 0;
}
