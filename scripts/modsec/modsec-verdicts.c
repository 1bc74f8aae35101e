// Runs requests through libmodsecurity (ModSecurity 3, the engine CRS is written for) with a CRS rule set and prints
// which rules matched each request, and on which variable: the reference bulwark-threat-protection's CRS engine is
// checked against (scripts/modsec/verdicts.ts compiles this with gcc at run time; Debian: libmodsecurity-dev).
//
// Usage: modsec-verdicts <paranoia level> <anomaly threshold> <rule file>...
// The rule files (CRS REQUEST-9xx-*.conf, in order) are loaded after a minimal setup written here in place of CRS's
// crs-setup.conf and REQUEST-901-INITIALIZATION.conf: DetectionOnly, request body access, the JSON body processor for
// JSON content types, the paranoia level (CRS 4's tx.detection_paranoia_level and CRS 3's tx.paranoia_level) and
// the severity scores. Scoring and blocking rules (949, 980) are not loaded: only the detection verdicts matter.
//
// stdin, one request per line, four tab-separated fields, the last three hex-encoded bytes:
//   METHOD <tab> hex(URI with query) <tab> hex("Name: value\n" header lines) <tab> hex(body)
// stdout, per request: `R <line number>`, then `M <rule id> <hex(variable name)>` per rule message ModSecurity
// logged, then `E`; `T <rule id> <hex digits>` too for a probe rule whose logdata is "HEX=<hex digits>=HEX" (the
// transformation checks in verdicts.ts). Messages of rules with nolog (CRS's bookkeeping rules) never reach the log
// callback. MV_RAW=1 in the environment copies every message to stderr. MV_TIME=1 adds `C <ns>` before each `E`:
// the CPU time (CLOCK_THREAD_CPUTIME_ID) from the transaction's creation to its cleanup (scripts/bench's CPU rows).
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *rule_dir_marker = NULL; // `[file "<dir>` : what precedes the rule's own [id "…"] in a message

static void put_hex(const char *s, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    putchar(digits[c >> 4]);
    putchar(digits[c & 15]);
  }
}

// A message reads: Matched "Operator `Rx' with parameter `…' against variable `ARGS:q' (Value: `…' ) [file "…"]
// [line "…"] [id "942100"] … The value is request data, so the id is taken after the rule file's path (a
// directory the caller chose, never in request data), and the variable from the first "' against variable `"
// (CRS's operator parameters never contain it), or for the detectors from CRS's logdata.
static void on_log(void *data, const void *message) {
  (void)data;
  const char *msg = (const char *)message;
  if (getenv("MV_RAW")) fprintf(stderr, "%s\n", msg);
  if (msg == NULL) return;
  const char *file = strstr(msg, rule_dir_marker);
  if (file == NULL) return;
  const char *id = strstr(file, "[id \"");
  if (id == NULL) return;
  id += 5;
  const char *id_end = strchr(id, '"');
  if (id_end == NULL) return;
  const char *var = strstr(msg, "' against variable `");
  const char *var_end = NULL;
  if (var != NULL && var < file) {
    var += strlen("' against variable `");
    var_end = strstr(var, "' (Value: `");
    if (var_end == NULL || var_end > file) var = NULL;
  } else var = NULL;
  if (var == NULL) {
    // @detectSQLi / @detectXSS messages name no variable; CRS's logdata does: "Matched Data: … found within VAR: …".
    const char *data = strstr(id_end, "[data \"Matched Data: ");
    const char *within = data == NULL ? NULL : strstr(data, " found within ");
    if (within != NULL) {
      var = within + strlen(" found within ");
      var_end = strstr(var, ": ");
      if (var_end == NULL) var = NULL;
    }
  }
  // A probe rule's logdata (transformation outputs, transformations.ts): "HEX=<hex digits>=HEX".
  const char *probe = strstr(id_end, "[data \"HEX=");
  if (probe != NULL) {
    probe += strlen("[data \"HEX=");
    const char *probe_end = strstr(probe, "=HEX\"]");
    if (probe_end != NULL) printf("T %.*s %.*s\n", (int)(id_end - id), id, (int)(probe_end - probe), probe);
  }
  printf("M %.*s ", (int)(id_end - id), id);
  if (var != NULL) put_hex(var, (size_t)(var_end - var));
  else putchar('-');
  putchar('\n');
}

static int unhex(const char *s, size_t n, char **out, size_t *out_len) {
  if (n % 2 != 0) return -1;
  char *buf = malloc(n / 2 + 1);
  if (buf == NULL) return -1;
  for (size_t i = 0; i < n; i += 2) {
    int v = 0;
    for (int k = 0; k < 2; k++) {
      char c = s[i + k];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) {
        free(buf);
        return -1;
      }
      v = v * 16 + d;
    }
    buf[i / 2] = (char)v;
  }
  buf[n / 2] = '\0';
  *out = buf;
  *out_len = n / 2;
  return 0;
}

static const char SETUP[] =
    "SecRuleEngine DetectionOnly\n"
    "SecRequestBodyAccess On\n"
    "SecRequestBodyLimit 13107200\n"
    "SecRequestBodyNoFilesLimit 1048576\n"
    "SecArgumentsLimit 10000\n"
    "SecPcreMatchLimit 1000000\n"
    "SecPcreMatchLimitRecursion 1000000\n"
    "SecDefaultAction \"phase:1,log,auditlog,pass\"\n"
    "SecDefaultAction \"phase:2,log,auditlog,pass\"\n"
    // ModSecurity's recommended configuration (modsecurity.conf-recommended, rule 200001): JSON bodies as ARGS.
    "SecRule REQUEST_HEADERS:Content-Type \"@rx (?i)^(?:application/(?:.+\\+)?json)\" "
    "\"id:200001,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=JSON\"\n";

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: modsec-verdicts <paranoia level> <anomaly threshold> <rule file>...\n");
    return 2;
  }
  int pl = atoi(argv[1]);
  int threshold = atoi(argv[2]);
  ModSecurity *ms = msc_init();
  msc_set_connector_info(ms, "bulwark modsec-verdicts");
  msc_set_log_cb(ms, on_log);
  RulesSet *rules = msc_create_rules_set();
  const char *error = NULL;
  char setup[4096];
  snprintf(setup, sizeof setup,
           "%sSecAction \"id:900990,phase:1,pass,nolog,t:none,"
           "setvar:tx.detection_paranoia_level=%d,setvar:tx.blocking_paranoia_level=%d,"
           "setvar:tx.paranoia_level=%d,setvar:tx.executing_paranoia_level=%d,"
           "setvar:tx.inbound_anomaly_score_threshold=%d,"
           "setvar:tx.critical_anomaly_score=5,setvar:tx.error_anomaly_score=4,"
           "setvar:tx.warning_anomaly_score=3,setvar:tx.notice_anomaly_score=2\"\n",
           SETUP, pl, pl, pl, pl, threshold);
  if (msc_rules_add(rules, setup, &error) < 0) {
    fprintf(stderr, "modsec-verdicts: setup: %s\n", error);
    return 1;
  }
  // Every rule file sits in one directory (the caller's); its path marks where a message's own fields start.
  const char *first = argv[3];
  const char *slash = strrchr(first, '/');
  size_t dir_len = slash == NULL ? 0 : (size_t)(slash - first + 1);
  char *marker = malloc(dir_len + 16);
  sprintf(marker, "[file \"%.*s", (int)dir_len, first);
  rule_dir_marker = marker;
  for (int i = 3; i < argc; i++) {
    if (msc_rules_add_file(rules, argv[i], &error) < 0) {
      fprintf(stderr, "modsec-verdicts: %s: %s\n", argv[i], error);
      return 1;
    }
  }
  printf("READY %s\n", msc_who_am_i(ms));
  fflush(stdout);

  const char *time_env = getenv("MV_TIME");
  int timed = time_env != NULL && strcmp(time_env, "1") == 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long number = 0;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    number++;
    if (line[n - 1] == '\n') line[--n] = '\0';
    char *fields[4];
    int nf = 0;
    char *p = line;
    fields[nf++] = p;
    while (nf < 4 && (p = strchr(p, '\t')) != NULL) {
      *p++ = '\0';
      fields[nf++] = p;
    }
    char *uri, *headers, *body;
    size_t uri_len, headers_len, body_len;
    if (nf != 4 || unhex(fields[1], strlen(fields[1]), &uri, &uri_len) < 0 ||
        unhex(fields[2], strlen(fields[2]), &headers, &headers_len) < 0 ||
        unhex(fields[3], strlen(fields[3]), &body, &body_len) < 0) {
      fprintf(stderr, "modsec-verdicts: line %ld: expected METHOD, then hex URI, headers and body\n", number);
      return 1;
    }
    printf("R %ld\n", number);
    struct timespec started;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &started);
    Transaction *tx = msc_new_transaction(ms, rules, NULL);
    msc_process_connection(tx, "127.0.0.1", 40000, "127.0.0.1", 80);
    msc_process_uri(tx, uri, fields[0], "1.1");
    msc_add_request_header(tx, (const unsigned char *)"Host", (const unsigned char *)"localhost");
    for (char *h = headers; h < headers + headers_len;) {
      char *end = memchr(h, '\n', (size_t)(headers + headers_len - h));
      if (end == NULL) end = headers + headers_len;
      char *colon = memchr(h, ':', (size_t)(end - h));
      if (colon != NULL) {
        char *v = colon + 1;
        while (v < end && *v == ' ') v++;
        msc_add_n_request_header(tx, (const unsigned char *)h, (size_t)(colon - h), (const unsigned char *)v,
                                 (size_t)(end - v));
      }
      h = end + 1;
    }
    if (body_len > 0) {
      char length[32];
      snprintf(length, sizeof length, "%zu", body_len);
      msc_add_request_header(tx, (const unsigned char *)"Content-Length", (const unsigned char *)length);
    }
    msc_process_request_headers(tx);
    if (body_len > 0) msc_append_request_body(tx, (const unsigned char *)body, body_len);
    msc_process_request_body(tx);
    msc_transaction_cleanup(tx);
    if (timed) {
      struct timespec ended;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ended);
      printf("C %lld\n", (long long)(ended.tv_sec - started.tv_sec) * 1000000000LL + (ended.tv_nsec - started.tv_nsec));
    }
    printf("E\n");
    fflush(stdout);
    free(uri);
    free(headers);
    free(body);
  }
  free(line);
  free(marker);
  msc_rules_cleanup(rules);
  msc_cleanup(ms);
  return 0;
}
