// libinjection through its C library, for scripts/bench/threat-protection.ts's side-by-side rows: the copy of
// libinjection that libmodsecurity 3 bundles and exports (Debian: libmodsecurity3; its headers do not declare these
// functions, so the two prototypes are written here as libinjection.h declares them). The bench compiles this with
// gcc at run time and links -lmodsecurity; without gcc or the library the row is left out.
//
// Usage: libinjection-c <rounds>
// stdin, one request per line: the hex-encoded bytes of each of its values, separated by single spaces (an empty
// line is a request without values).
// stdout: per request, in order, `V <digits>`: per value 0 (neither), 1 (SQLi), 2 (XSS) or 3 (both); then per round
// `T <ns> <ns> ...`: the CPU time (CLOCK_THREAD_CPUTIME_ID) each request's values took through both detectors.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int libinjection_sqli(const char *s, size_t slen, char fingerprint[]);
int libinjection_xss(const char *s, size_t slen);

struct value {
  char *bytes;
  size_t len;
};

struct request {
  struct value *values;
  size_t count;
};

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static long long thread_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int verdict(const struct value *v) {
  char fingerprint[8];
  return (libinjection_sqli(v->bytes, v->len, fingerprint) ? 1 : 0) | (libinjection_xss(v->bytes, v->len) ? 2 : 0);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 1;
  struct request *requests = NULL;
  size_t count = 0, cap = 0;
  char *line = NULL;
  size_t line_cap = 0;
  ssize_t n;
  while ((n = getline(&line, &line_cap, stdin)) >= 0) {
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    if (count == cap) {
      cap = cap == 0 ? 1024 : cap * 2;
      requests = realloc(requests, cap * sizeof *requests);
    }
    struct request *r = &requests[count++];
    r->count = 0;
    r->values = malloc(((size_t)n / 2 + 1) * sizeof *r->values);
    for (char *p = line; *p != '\0';) {
      char *end = strchr(p, ' ');
      if (end == NULL) end = p + strlen(p);
      size_t hex_len = (size_t)(end - p);
      struct value *v = &r->values[r->count++];
      v->len = hex_len / 2;
      v->bytes = malloc(v->len + 1);
      for (size_t i = 0; i < v->len; i++) {
        int hi = nibble(p[2 * i]), lo = nibble(p[2 * i + 1]);
        if (hi < 0 || lo < 0) {
          fprintf(stderr, "libinjection-c: request %zu: not lower-case hex\n", count);
          return 1;
        }
        v->bytes[i] = (char)(hi << 4 | lo);
      }
      v->bytes[v->len] = '\0';
      p = *end == ' ' ? end + 1 : end;
    }
  }
  free(line);
  for (size_t i = 0; i < count; i++) {
    fputs("V ", stdout);
    for (size_t j = 0; j < requests[i].count; j++) putchar('0' + verdict(&requests[i].values[j]));
    putchar('\n');
  }
  volatile int sink = 0;
  for (int round = 0; round < rounds; round++) {
    fputs("T", stdout);
    for (size_t i = 0; i < count; i++) {
      long long t = thread_ns();
      for (size_t j = 0; j < requests[i].count; j++) sink += verdict(&requests[i].values[j]);
      printf(" %lld", thread_ns() - t);
    }
    putchar('\n');
  }
  return sink < 0;
}
