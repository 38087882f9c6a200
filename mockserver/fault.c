#include "fault.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/prng.h"

static const char *const kind_names[FAULT_N_KINDS] = {
    [FAULT_STATUS] = "status",
    [FAULT_DISCONNECT] = "disconnect-after",
    [FAULT_STALL] = "stall",
    [FAULT_MALFORMED] = "malformed",
    [FAULT_ERROR_EVENT] = "error-event",
    [FAULT_NO_USAGE] = "no-usage",
    [FAULT_SLOW_HEADERS] = "slow-headers",
    [FAULT_TRICKLE] = "trickle",
};

/* What each kind accepts: whether "=PARAM" is required/forbidden, whether
 * "@K" is allowed, its default, and the ranges. */
static const struct {
    int wants_param; /* 1 required, 0 forbidden */
    int allows_at;
    int64_t at_default;
    int64_t param_min, param_max;
    int64_t at_min, at_max;
    const char *param_what;
    const char *at_what;
} rules[FAULT_N_KINDS] = {
    [FAULT_STATUS] = {1, 1, 1, 400, 599, 0, 86400, "an HTTP status 400..599",
                      "Retry-After seconds 0..86400"},
    [FAULT_DISCONNECT] = {1, 0, -1, 0, 1000000000, 0, 0, "a token count 0..1000000000", NULL},
    [FAULT_STALL] = {1, 1, 1, 0, 3600000, 0, 1000000000, "milliseconds 0..3600000",
                     "a token count 0..1000000000"},
    [FAULT_MALFORMED] = {0, 1, 1, 0, 0, 1, 1000000000, NULL, "a token number 1..1000000000"},
    [FAULT_ERROR_EVENT] = {0, 1, 1, 0, 0, 0, 1000000000, NULL, "a token count 0..1000000000"},
    [FAULT_NO_USAGE] = {0, 0, -1, 0, 0, 0, 0, NULL, NULL},
    [FAULT_SLOW_HEADERS] = {1, 0, -1, 0, 3600000, 0, 0, "milliseconds 0..3600000", NULL},
    [FAULT_TRICKLE] = {0, 0, -1, 0, 0, 0, 0, NULL, NULL},
};

const char *fault_kind_name(enum fault_kind kind)
{
    return (unsigned)kind < FAULT_N_KINDS ? kind_names[kind] : "?";
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Parses s[0..len) as a whole decimal integer in [min, max]. */
static int parse_int(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    if (len == 0 || len > 19)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) /* 19 digits can exceed int64 */
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_prob(const char *s, size_t len, double *out)
{
    char tmp[32];
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (!isdigit((unsigned char)tmp[0]) && tmp[0] != '.')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno || *end != '\0' || !isfinite(v) || v < 0 || v > 1)
        return -1;
    *out = v;
    return 0;
}

/* Finds the first of the characters in set in s[0..len), or len. */
static size_t span_to(const char *s, size_t len, const char *set)
{
    size_t i = 0;
    while (i < len && !strchr(set, s[i]))
        i++;
    return i;
}

static int parse_entry(fault_entry *e, const char *s, size_t len, char *err, size_t err_len)
{
    int shown = len > 80 ? 80 : (int)len;
    size_t name_len = span_to(s, len, "=@:");
    int kind = -1;
    for (int k = 0; k < FAULT_N_KINDS; k++)
        if (strlen(kind_names[k]) == name_len && strncmp(kind_names[k], s, name_len) == 0)
            kind = k;
    if (kind < 0)
        return fail(err, err_len,
                    "fault entry '%.*s': unknown kind '%.*s' (expected status, "
                    "disconnect-after, stall, malformed, error-event, no-usage, slow-headers "
                    "or trickle)",
                    shown, s, name_len > 40 ? 40 : (int)name_len, s);
    e->kind = (enum fault_kind)kind;
    e->param = 0;
    e->at = rules[kind].at_default;
    e->prob = 1.0;

    size_t i = name_len;
    int have_param = 0;
    if (i < len && s[i] == '=') {
        size_t n = span_to(s + i + 1, len - i - 1, "@:");
        if (!rules[kind].wants_param)
            return fail(err, err_len, "fault entry '%.*s': %s takes no '=' value", shown, s,
                        kind_names[kind]);
        if (parse_int(s + i + 1, n, rules[kind].param_min, rules[kind].param_max, &e->param))
            return fail(err, err_len, "fault entry '%.*s': %s= expects %s, got '%.*s'", shown, s,
                        kind_names[kind], rules[kind].param_what, n > 20 ? 20 : (int)n,
                        s + i + 1);
        have_param = 1;
        i += 1 + n;
    }
    if (rules[kind].wants_param && !have_param)
        return fail(err, err_len, "fault entry '%.*s': %s needs '=%s'", shown, s,
                    kind_names[kind], rules[kind].param_what);
    if (i < len && s[i] == '@') {
        size_t n = span_to(s + i + 1, len - i - 1, ":");
        if (!rules[kind].allows_at)
            return fail(err, err_len, "fault entry '%.*s': %s takes no '@' value", shown, s,
                        kind_names[kind]);
        if (parse_int(s + i + 1, n, rules[kind].at_min, rules[kind].at_max, &e->at))
            return fail(err, err_len, "fault entry '%.*s': @ expects %s, got '%.*s'", shown, s,
                        rules[kind].at_what, n > 20 ? 20 : (int)n, s + i + 1);
        i += 1 + n;
    }
    if (i < len && s[i] == ':') {
        if (parse_prob(s + i + 1, len - i - 1, &e->prob))
            return fail(err, err_len,
                        "fault entry '%.*s': the probability after ':' must be a number in "
                        "[0, 1], got '%.*s'",
                        shown, s, (int)(len - i - 1 > 20 ? 20 : len - i - 1), s + i + 1);
        i = len;
    }
    if (i != len)
        return fail(err, err_len, "fault entry '%.*s': unexpected '%c' (expected "
                    "KIND[=PARAM][@K][:PROB])", shown, s, s[i]);
    return 0;
}

int fault_parse(fault_list *out, const char *text, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    if (len > FAULT_MAX_LIST_LEN)
        return fail(err, err_len, "fault list is longer than %d characters", FAULT_MAX_LIST_LEN);
    size_t i = 0;
    while (i < len && text[i] == ' ')
        i++;
    if (i == len)
        return 0; /* an empty list: no faults */
    for (;;) {
        size_t n = span_to(text + i, len - i, ",");
        const char *s = text + i;
        size_t a = 0, b = n;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (a == b)
            return fail(err, err_len, "fault list '%.80s': empty entry %zu", text, out->n + 1);
        for (size_t k = a; k < b; k++)
            if (isspace((unsigned char)s[k]) || !isprint((unsigned char)s[k]))
                return fail(err, err_len,
                            "fault entry '%.*s': space or control character inside an entry",
                            (int)(b - a > 80 ? 80 : b - a), s + a);
        if (out->n == FAULT_MAX_ENTRIES)
            return fail(err, err_len, "fault list: more than %d entries", FAULT_MAX_ENTRIES);
        if (parse_entry(&out->entries[out->n], s + a, b - a, err, err_len))
            return -1;
        out->n++;
        i += n;
        if (i == len)
            break;
        i++; /* the comma */
    }
    return 0;
}

int fault_entry_format(const fault_entry *e, char *out, size_t out_len)
{
    const char *name = fault_kind_name(e->kind);
    switch (e->kind) {
    case FAULT_STATUS:
        return snprintf(out, out_len, "%s=%lld@%lld", name, (long long)e->param,
                        (long long)e->at);
    case FAULT_DISCONNECT:
    case FAULT_SLOW_HEADERS:
        return snprintf(out, out_len, "%s=%lld", name, (long long)e->param);
    case FAULT_STALL:
        return snprintf(out, out_len, "%s=%lld@%lld", name, (long long)e->param,
                        (long long)e->at);
    case FAULT_MALFORMED:
    case FAULT_ERROR_EVENT:
        return snprintf(out, out_len, "%s@%lld", name, (long long)e->at);
    default:
        return snprintf(out, out_len, "%s", name);
    }
}

static void add_text(fault_plan *plan, const fault_entry *e)
{
    char one[96];
    fault_entry_format(e, one, sizeof one);
    size_t used = strlen(plan->text);
    snprintf(plan->text + used, sizeof plan->text - used, "%s%s", used ? "," : "", one);
}

void fault_draw(fault_plan *plan, const fault_list *l, uint64_t seed, uint64_t request_seq)
{
    memset(plan, 0, sizeof *plan);
    if (!l || l->n == 0)
        return;
    /* A stream of its own: the tag keeps it apart from the text generator's. */
    prng r;
    prng_seed(&r, seed * UINT64_C(0x9E3779B97F4A7C15) ^ request_seq * UINT64_C(0xD1B54A32D192ED03) ^
                      UINT64_C(0x6661756c74730a00));
    int taken[FAULT_MAX_ENTRIES] = {0};
    const fault_entry *status = NULL, *end = NULL;
    for (size_t i = 0; i < l->n; i++) {
        double u = prng_uniform(&r); /* one draw per entry, taken or not */
        const fault_entry *e = &l->entries[i];
        if (!(u < e->prob))
            continue;
        taken[i] = 1;
        if (e->kind == FAULT_STATUS && !status)
            status = e;
        if (e->kind == FAULT_DISCONNECT || e->kind == FAULT_ERROR_EVENT) {
            int64_t k = e->kind == FAULT_DISCONNECT ? e->param : e->at;
            int64_t best = end ? (end->kind == FAULT_DISCONNECT ? end->param : end->at) : -1;
            if (!end || k < best)
                end = e;
        }
    }
    if (status) {
        plan->status = (int)status->param;
        plan->retry_after_s = (int)status->at;
        plan->kinds = 1u << FAULT_STATUS;
        add_text(plan, status);
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        const fault_entry *e = &l->entries[i];
        if (!taken[i])
            continue;
        switch (e->kind) {
        case FAULT_DISCONNECT:
        case FAULT_ERROR_EVENT:
            if (e != end)
                continue;
            plan->end = e->kind == FAULT_DISCONNECT ? FAULT_END_DISCONNECT : FAULT_END_ERROR;
            plan->end_after_tokens = (size_t)(e->kind == FAULT_DISCONNECT ? e->param : e->at);
            break;
        case FAULT_STALL:
            plan->stalls[plan->n_stalls].after_tokens = (size_t)e->at;
            plan->stalls[plan->n_stalls].delay_ns = e->param * INT64_C(1000000);
            plan->n_stalls++;
            break;
        case FAULT_MALFORMED:
            plan->malformed_at[plan->n_malformed++] = (size_t)e->at;
            break;
        case FAULT_NO_USAGE: plan->no_usage = 1; break;
        case FAULT_SLOW_HEADERS: plan->slow_headers_ns += e->param * INT64_C(1000000); break;
        case FAULT_TRICKLE: plan->trickle = 1; break;
        default: continue;
        }
        plan->kinds |= 1u << e->kind;
        add_text(plan, e);
    }
}

int64_t fault_stall_shift_ns(const fault_plan *plan, size_t tokens_sent)
{
    int64_t shift = 0;
    for (size_t i = 0; i < plan->n_stalls; i++)
        if (plan->stalls[i].after_tokens <= tokens_sent)
            shift += plan->stalls[i].delay_ns;
    return shift;
}

int fault_event_malformed(const fault_plan *plan, size_t tokens_before, size_t n_tokens,
                          int is_last)
{
    for (size_t i = 0; i < plan->n_malformed; i++) {
        size_t k = plan->malformed_at[i];
        if (k > tokens_before && (is_last || k <= tokens_before + n_tokens))
            return 1;
    }
    return 0;
}

enum fault_end fault_end_due(const fault_plan *plan, size_t tokens_sent)
{
    if (plan->end != FAULT_END_NONE && tokens_sent >= plan->end_after_tokens)
        return plan->end;
    return FAULT_END_NONE;
}

int fault_malformed_copy(buf *out, const char *event, size_t len)
{
    size_t body = len;
    while (body > 0 && (event[body - 1] == '\n' || event[body - 1] == '\r'))
        body--;
    size_t cut = body / 2;
    while (cut > 0 && ((unsigned char)event[cut] & 0xC0) == 0x80)
        cut--; /* never split a UTF-8 character */
    int rc = buf_append(out, event, cut);
    if (body == len)
        rc |= buf_append(out, "\n\n", 2);
    else
        rc |= buf_append(out, event + body, len - body);
    return rc;
}

int fault_error_event(buf *out, size_t tokens_sent)
{
    return buf_printf(out,
                      "data: {\"error\":{\"code\":500,\"message\":\"tokmock fault: the server "
                      "failed after %zu tokens\",\"type\":\"server_error\"}}\n\n",
                      tokens_sent);
}
