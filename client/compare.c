/* tokbench compare. Cells are matched on (concurrency, depth, pp, tg,
 * context phase); for every metric either side measured, the table shows
 * both means, the change of B against A, and a Mann-Whitney U note over the
 * metrics' "values" arrays (one value per run, or per request for itl). */
#include "client/compare.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client/commands.h"
#include "client/history.h"
#include "client/mwu.h"
#include "common/xalloc.h"

static const struct metric_def {
    const char *key, *title;
    bool multi_only; /* only meaningful with concurrency > 1 */
} metric_defs[] = {
    {"pp_throughput", "pp t/s", false},
    {"pp_req_throughput", "pp t/s (req)", true},
    {"tg_throughput", "tg t/s", false},
    {"tg_req_throughput", "tg t/s (req)", true},
    {"peak_throughput", "peak t/s", false},
    {"ttfr", "ttfr ms", false},
    {"est_ppt", "est_ppt ms", false},
    {"e2e_ttft", "e2e_ttft ms", false},
    {"ttft", "ttft ms", false},
    {"itl", "itl ms", false},
};

void compare_note(const double *a, size_t na, const double *b, size_t nb, char *out, size_t size)
{
    mwu_result r;
    if (na == 0 || nb == 0 || mwu_test(a, na, b, nb, &r) != 0) {
        snprintf(out, size, "no per-run values");
        return;
    }
    if (mwu_min_p(na, nb) > COMPARE_ALPHA)
        snprintf(out, size, "not significant (n=%zu vs %zu: too few runs to tell)", na, nb);
    else if (r.p < COMPARE_ALPHA)
        snprintf(out, size, "p=%.2g (significant at %g%%)", r.p, COMPARE_ALPHA * 100);
    else
        snprintf(out, size, "p=%.2g (not significant)", r.p);
}

static int int_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
}

static bool same_cell(const cJSON *x, const cJSON *y)
{
    static const char *const keys[] = {"concurrency", "context_size", "prompt_size",
                                       "response_size"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (int_of(x, keys[i]) != int_of(y, keys[i]))
            return false;
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "is_context_prefill_phase")) ==
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(y, "is_context_prefill_phase"));
}

static void cell_name(const cJSON *c, char *out, size_t size)
{
    snprintf(out, size, "%spp%d tg%d @ d%d c%d",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "is_context_prefill_phase")) ? "ctx "
                                                                                          : "",
             int_of(c, "prompt_size"), int_of(c, "response_size"), int_of(c, "context_size"),
             int_of(c, "concurrency"));
}

/* The numbers of a metric's "values" array (a new array, free with free()). */
static double *values_of(const cJSON *m, size_t *n)
{
    *n = 0;
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(m, "values");
    int count = cJSON_IsArray(vals) ? cJSON_GetArraySize(vals) : 0;
    double *v = xmalloc(((size_t)count + 1) * sizeof *v);
    const cJSON *it;
    cJSON_ArrayForEach(it, vals)
    {
        if (cJSON_IsNumber(it) && isfinite(it->valuedouble))
            v[(*n)++] = it->valuedouble;
    }
    return v;
}

static bool mean_of(const cJSON *m, double *mean)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "mean");
    if (!cJSON_IsNumber(v))
        return false;
    *mean = v->valuedouble;
    return true;
}

static void describe(FILE *out, const char *tag, const char *name, const cJSON *doc)
{
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(doc, "timestamp");
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(doc, "tokbench_version");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
    fprintf(out, "%s: %s (model %s, %s, %s %s)\n", tag, name,
            cJSON_IsString(model) ? model->valuestring : "?",
            cJSON_IsString(ts) ? ts->valuestring : "no date",
            cJSON_IsString(tv) ? "tokbench" : "llama-benchy",
            cJSON_IsString(tv) ? tv->valuestring : cJSON_IsString(v) ? v->valuestring : "?");
}

static void compare_cell(const cJSON *ca, const cJSON *cb, FILE *out)
{
    char name[96];
    cell_name(ca, name, sizeof name);
    bool multi = int_of(ca, "concurrency") > 1;
    for (size_t i = 0; i < sizeof metric_defs / sizeof metric_defs[0]; i++) {
        const struct metric_def *d = &metric_defs[i];
        if (d->multi_only && !multi)
            continue;
        const cJSON *ma = cJSON_GetObjectItemCaseSensitive(ca, d->key);
        const cJSON *mb = cJSON_GetObjectItemCaseSensitive(cb, d->key);
        double mean_a = 0, mean_b = 0;
        bool has_a = cJSON_IsObject(ma) && mean_of(ma, &mean_a);
        bool has_b = cJSON_IsObject(mb) && mean_of(mb, &mean_b);
        if (!has_a && !has_b)
            continue;
        char sa[32] = "-", sb[32] = "-", change[32] = "n/a", note[96] = "";
        if (has_a)
            snprintf(sa, sizeof sa, "%.2f", mean_a);
        if (has_b)
            snprintf(sb, sizeof sb, "%.2f", mean_b);
        if (has_a && has_b && mean_a != 0)
            snprintf(change, sizeof change, "%+.1f%%", (mean_b - mean_a) / fabs(mean_a) * 100);
        if (has_a && has_b) {
            size_t na, nb;
            double *va = values_of(ma, &na), *vb = values_of(mb, &nb);
            compare_note(va, na, vb, nb, note, sizeof note);
            free(va);
            free(vb);
        } else {
            snprintf(note, sizeof note, "measured in %s only", has_a ? "A" : "B");
        }
        fprintf(out, "%-28s %-14s %12s %12s %9s  %s\n", name, d->title, sa, sb, change, note);
    }
}

int compare_docs(const cJSON *a, const cJSON *b, const char *name_a, const char *name_b, FILE *out,
                 FILE *err)
{
    const cJSON *ba = cJSON_GetObjectItemCaseSensitive(a, "benchmarks");
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(b, "benchmarks");
    if (!cJSON_IsArray(ba) || !cJSON_IsArray(bb)) {
        fprintf(err, "tokbench compare: %s has no \"benchmarks\" list: not a tokbench or "
                     "llama-benchy result\n", cJSON_IsArray(ba) ? name_b : name_a);
        return -1;
    }
    describe(out, "A", name_a, a);
    describe(out, "B", name_b, b);
    fprintf(out, "change = B against A; significance: two-sided Mann-Whitney U over the "
                 "per-run values\n\n");
    fprintf(out, "%-28s %-14s %12s %12s %9s  %s\n", "cell", "metric", "A (mean)", "B (mean)",
            "change", "significance");
    int common = 0;
    const cJSON *ca, *cb;
    cJSON_ArrayForEach(ca, ba)
    {
        const cJSON *match = NULL;
        cJSON_ArrayForEach(cb, bb)
        {
            if (cJSON_IsObject(cb) && same_cell(ca, cb)) {
                match = cb;
                break;
            }
        }
        if (!cJSON_IsObject(ca) || !match)
            continue;
        compare_cell(ca, match, out);
        common++;
    }
    for (int side = 0; side < 2; side++) {
        const cJSON *mine = side ? bb : ba, *other = side ? ba : bb;
        cJSON_ArrayForEach(ca, mine)
        {
            bool found = false;
            cJSON_ArrayForEach(cb, other) found = found || same_cell(ca, cb);
            if (!found && cJSON_IsObject(ca)) {
                char name[96];
                cell_name(ca, name, sizeof name);
                fprintf(out, "%-28s only in %s\n", name, side ? "B" : "A");
            }
        }
    }
    if (!common)
        fprintf(out, "no cell (concurrency, depth, pp, tg) is in both files\n");
    return common;
}

static cJSON *load(const char *path, FILE *err)
{
    buf text;
    buf_init(&text, 0);
    char msg[512];
    cJSON *doc = NULL;
    if (history_read_file(path, HISTORY_MAX_JSON_BYTES, &text, msg, sizeof msg)) {
        fprintf(err, "tokbench compare: %s\n", msg);
    } else {
        doc = cJSON_ParseWithLength(text.data ? text.data : "", text.len);
        if (!cJSON_IsObject(doc)) {
            fprintf(err, "tokbench compare: %s: not a JSON object (expected a tokbench or "
                         "llama-benchy JSON result)\n", path);
            cJSON_Delete(doc);
            doc = NULL;
        }
    }
    buf_free(&text);
    return doc;
}

static void usage(FILE *f)
{
    fputs("usage: tokbench compare A.json B.json\n"
          "Compares two saved results (tokbench or llama-benchy JSON) cell by cell: each\n"
          "metric's mean in A and B, the change of B against A, and whether the per-run\n"
          "values differ significantly (two-sided Mann-Whitney U, 5% level).\n",
          f);
}

int compare_cmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    const char *files[2];
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(out);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(err, "tokbench compare: unknown option %s\n", argv[i]);
            usage(err);
            return 2;
        }
        if (nfiles == 2) {
            fprintf(err, "tokbench compare: expected two files, got more (%s)\n", argv[i]);
            usage(err);
            return 2;
        }
        files[nfiles++] = argv[i];
    }
    if (nfiles != 2) {
        usage(err);
        return 2;
    }
    cJSON *a = load(files[0], err);
    cJSON *b = a ? load(files[1], err) : NULL;
    int rc = 1;
    if (a && b) {
        int common = compare_docs(a, b, files[0], files[1], out, err);
        rc = common > 0 ? 0 : 1;
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (fflush(out))
        rc = 1;
    return rc;
}
