#include "client/slo.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "client/stats.h"
#include "common/xalloc.h"

/* Short names accepted for the JSON metric keys. */
static const struct {
    const char *alias, *key;
} ALIASES[] = {
    {"pp", "pp_throughput"},     {"pp_req", "pp_req_throughput"},
    {"tg", "tg_throughput"},     {"tg_req", "tg_req_throughput"},
    {"peak", "peak_throughput"}, {"peak_req", "peak_req_throughput"},
};

/* Scalars of a cell (keys of results_run.extra written by the runner). */
static const char *const SCALARS[] = {"error_rate", "requests_per_second", "goodput",
                                      "n_errors", "n_requests"};

/* Metrics with a value per request (goodput checks them one by one). */
static const char *const PER_REQUEST[] = {"ttft",    "e2e_ttft",          "ttfr", "est_ppt",
                                          "e2el",    "tg_req_throughput", "pp_req_throughput"};

const char *slo_op_text(enum slo_op op)
{
    switch (op) {
    case SLO_LE: return "<=";
    case SLO_LT: return "<";
    case SLO_GE: return ">=";
    case SLO_GT: return ">";
    }
    return "?";
}

void slo_format(const slo_objective *o, char *out, size_t size)
{
    snprintf(out, size, "%s%s%g", o->name, slo_op_text(o->op), o->threshold);
}

void slo_set_free(slo_set *set)
{
    free(set->items);
    set->items = NULL;
    set->n = 0;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Copies src into dst[size]; returns -1 when it does not fit. */
static int copy_name(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* Splits name into metric and stat; returns -1 on an unknown shape. */
static int split_name(slo_objective *o, char *err, size_t errlen)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s", o->name);
    if (in_list(tmp, SCALARS, sizeof SCALARS / sizeof SCALARS[0])) {
        copy_name(o->metric, sizeof o->metric, tmp); /* a known short name */
        o->stat[0] = '\0';
        return 0;
    }
    if (strcmp(tmp, "rps") == 0) {
        snprintf(o->metric, sizeof o->metric, "requests_per_second");
        o->stat[0] = '\0';
        return 0;
    }
    size_t n = strlen(tmp);
    if (n > 3 && strcmp(tmp + n - 3, "_ms") == 0)
        tmp[n -= 3] = '\0';
    char *us = strrchr(tmp, '_');
    if (!us || us == tmp || !us[1]) {
        snprintf(err, errlen, "--slo: '%s' is not <metric>_<stat>[_ms] nor a known scalar",
                 o->name);
        return -1;
    }
    *us = '\0';
    const char *stat = us + 1;
    if (stat[0] == 'p' && (isdigit((unsigned char)stat[1]))) {
        char *end;
        errno = 0;
        double p = strtod(stat + 1, &end);
        if (*end || errno || p < 0 || p > 100) {
            snprintf(err, errlen, "--slo: bad percentile '%s' in '%s' (p0..p100)", stat, o->name);
            return -1;
        }
        o->pct = p;
    } else if (strcmp(stat, "median") == 0) {
        o->pct = 50;
    } else if (strcmp(stat, "mean") != 0 && strcmp(stat, "std") != 0 &&
               strcmp(stat, "min") != 0 && strcmp(stat, "max") != 0) {
        snprintf(err, errlen,
                 "--slo: unknown statistic '%s' in '%s' (mean, std, median, min, max, pN)", stat,
                 o->name);
        return -1;
    }
    if (copy_name(o->stat, sizeof o->stat, stat)) {
        snprintf(err, errlen, "--slo: statistic too long in '%s'", o->name);
        return -1;
    }
    const char *metric = tmp;
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
        if (strcmp(metric, ALIASES[i].alias) == 0)
            metric = ALIASES[i].key;
    if (copy_name(o->metric, sizeof o->metric, metric)) {
        snprintf(err, errlen, "--slo: metric name too long in '%s'", o->name);
        return -1;
    }
    o->per_request = in_list(o->metric, PER_REQUEST, sizeof PER_REQUEST / sizeof PER_REQUEST[0]);
    return 0;
}

int slo_parse(const char *spec, slo_set *set, char *err, size_t errlen)
{
    set->items = NULL;
    set->n = 0;
    size_t cap = 0;
    int rc = 0;
    char *copy = xstrdup(spec);
    char *save = NULL;
    for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*e))
            e++;
        if (!*e)
            continue;
        char *opp = strpbrk(e, "<>");
        if (!opp) {
            snprintf(err, errlen, "--slo: '%s' has no comparison (<=, <, >=, >)", e);
            rc = -1;
            break;
        }
        slo_objective o;
        memset(&o, 0, sizeof o);
        bool eq = opp[1] == '=';
        o.op = opp[0] == '<' ? (eq ? SLO_LE : SLO_LT) : (eq ? SLO_GE : SLO_GT);
        const char *num = opp + (eq ? 2 : 1);
        size_t name_len = (size_t)(opp - e);
        while (name_len > 0 && isspace((unsigned char)e[name_len - 1]))
            name_len--;
        if (name_len == 0 || name_len >= sizeof o.name) {
            snprintf(err, errlen, "--slo: missing or too long name in '%s'", e);
            rc = -1;
            break;
        }
        memcpy(o.name, e, name_len);
        o.name[name_len] = '\0';
        char *end;
        errno = 0;
        o.threshold = strtod(num, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end == num || *end || errno || !isfinite(o.threshold)) {
            snprintf(err, errlen, "--slo: bad threshold '%s' in '%s'", num, e);
            rc = -1;
            break;
        }
        if (split_name(&o, err, errlen)) {
            rc = -1;
            break;
        }
        if (set->n == cap) {
            cap = cap ? cap * 2 : 4;
            set->items = xrealloc(set->items, cap * sizeof *set->items);
        }
        set->items[set->n++] = o;
    }
    if (!rc && set->n == 0) {
        snprintf(err, errlen, "--slo: no objective given");
        rc = -1;
    }
    free(copy);
    if (rc)
        slo_set_free(set);
    return rc;
}

static const results_metric *standard_metric(const results_run *run, const char *key)
{
    static const struct {
        const char *key;
        size_t off;
    } T[] = {
#define M(k, f) {k, offsetof(results_run, f)}
        M("pp_throughput", pp_throughput), M("pp_req_throughput", pp_req_throughput),
        M("tg_throughput", tg_throughput), M("tg_req_throughput", tg_req_throughput),
        M("peak_throughput", peak_throughput), M("peak_req_throughput", peak_req_throughput),
        M("ttfr", ttfr), M("est_ppt", est_ppt), M("e2e_ttft", e2e_ttft), M("ttft", ttft),
        M("ttfc", ttfc), M("itl", itl), M("peak_1s_throughput", peak_1s),
        M("peak_1s_req_throughput", peak_1s_req), M("pp_marginal_throughput", pp_marginal),
        M("prompt_tokens", prompt_tokens), M("cached_tokens", cached_tokens),
        M("server_pp_throughput", server_pp), M("server_tg_throughput", server_tg),
#undef M
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (strcmp(T[i].key, key) == 0)
            return (const results_metric *)(const void *)((const char *)run + T[i].off);
    return NULL;
}

static bool number_of(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return true;
    }
    if (cJSON_IsRaw(v) && v->valuestring) {
        char *end;
        *out = strtod(v->valuestring, &end);
        return end != v->valuestring && !*end;
    }
    return false;
}

static bool stat_of(const slo_objective *o, const double *values, size_t n, double *out)
{
    if (n == 0)
        return false;
    if (strcmp(o->stat, "mean") == 0)
        *out = stats_mean(values, n);
    else if (strcmp(o->stat, "std") == 0)
        *out = stats_std_pop(values, n);
    else if (strcmp(o->stat, "min") == 0)
        *out = stats_percentile(values, n, 0);
    else if (strcmp(o->stat, "max") == 0)
        *out = stats_percentile(values, n, 100);
    else
        *out = stats_percentile(values, n, o->pct);
    return true;
}

bool slo_value(const slo_objective *o, const results_run *run, double *value)
{
    const results_metric *m = standard_metric(run, o->metric);
    if (m && o->stat[0])
        return m->present && stat_of(o, m->values, m->n, value);
    const cJSON *x = run->extra ? cJSON_GetObjectItemCaseSensitive(run->extra, o->metric) : NULL;
    if (!x)
        return false;
    if (!o->stat[0])
        return number_of(x, value);
    /* An extras metric object: its values when present, else the stat key. */
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(x, "values");
    if (cJSON_IsArray(vals)) {
        int n = cJSON_GetArraySize(vals);
        double *v = xmalloc((size_t)(n > 0 ? n : 1) * sizeof *v);
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, vals)
        {
            if (number_of(it, &v[k]))
                k++;
        }
        bool ok = stat_of(o, v, k, value);
        free(v);
        return ok;
    }
    return number_of(cJSON_GetObjectItemCaseSensitive(x, o->stat), value);
}

bool slo_holds(const slo_objective *o, double value)
{
    if (isnan(value))
        return false;
    switch (o->op) {
    case SLO_LE: return value <= o->threshold;
    case SLO_LT: return value < o->threshold;
    case SLO_GE: return value >= o->threshold;
    case SLO_GT: return value > o->threshold;
    }
    return false;
}

bool slo_request_ok(const slo_set *set, const slo_request_values *v)
{
    for (size_t i = 0; i < set->n; i++) {
        const slo_objective *o = &set->items[i];
        if (!o->per_request)
            continue;
        double x = NAN;
        const char *k = o->metric;
        if (strcmp(k, "ttft") == 0)
            x = v->ttft_ms;
        else if (strcmp(k, "e2e_ttft") == 0)
            x = v->e2e_ttft_ms;
        else if (strcmp(k, "ttfr") == 0)
            x = v->ttfr_ms;
        else if (strcmp(k, "est_ppt") == 0)
            x = v->est_ppt_ms;
        else if (strcmp(k, "e2el") == 0)
            x = v->e2el_ms;
        else if (strcmp(k, "tg_req_throughput") == 0)
            x = v->tg_tps;
        else if (strcmp(k, "pp_req_throughput") == 0)
            x = v->pp_tps;
        if (!slo_holds(o, x))
            return false;
    }
    return true;
}
