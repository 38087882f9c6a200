/* `tokbench report FILE.json [--format md|csv|json|html] [--output FILE]`:
 * renders a saved tokbench or llama-benchy JSON result again, with the same
 * writers a run uses, without touching the network. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "reload.h"
#include "report.h"

static const char USAGE[] =
    "usage: tokbench report FILE.json [--format md|csv|json|html] [--output FILE]\n"
    "Renders a saved tokbench or llama-benchy 0.4.0 JSON result (\"-\" reads stdin).\n"
    "  --format F           md (default: the table and its footer), csv, json or html\n"
    "  -o, --output FILE    write there instead of standard output\n";

/* The markdown table and the footer a run prints under it. */
static int write_md(const results *r, FILE *out)
{
    int rc = report_md(r, out);
    if (r->version) {
        const cJSON *tv = r->meta_extra
                              ? cJSON_GetObjectItemCaseSensitive(r->meta_extra, "tokbench_version")
                              : NULL;
        fprintf(out, "\nllama-benchy (%s%s%s)\ndate: %s | latency mode: %s\n", r->version,
                cJSON_IsString(tv) ? "+tokbench." : "", cJSON_IsString(tv) ? tv->valuestring : "",
                r->timestamp ? r->timestamp : "unknown",
                r->latency_mode ? r->latency_mode : "unknown");
    }
    return rc;
}

int report_cmd_main(int argc, char **argv, FILE *out, FILE *err)
{
    const char *path = NULL, *format = "md", *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, out);
            return 0;
        }
        if (strcmp(a, "--format") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) {
                fprintf(err, "tokbench report: error: %s needs a value\n%s", a, USAGE);
                return 2;
            }
            if (strcmp(a, "--format") == 0)
                format = argv[++i];
            else
                output = argv[++i];
        } else if (strncmp(a, "--format=", 9) == 0) {
            format = a + 9;
        } else if (strncmp(a, "--output=", 9) == 0) {
            output = a + 9;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(err, "tokbench report: error: unknown option %s\n%s", a, USAGE);
            return 2;
        } else if (path) {
            fprintf(err, "tokbench report: error: one FILE.json only (got %s and %s)\n%s", path, a,
                    USAGE);
            return 2;
        } else {
            path = a;
        }
    }
    int (*writer)(const results *, FILE *) = NULL;
    if (strcmp(format, "md") == 0)
        writer = write_md;
    else if (strcmp(format, "csv") == 0)
        writer = report_csv;
    else if (strcmp(format, "json") == 0)
        writer = report_json;
    else if (strcmp(format, "html") == 0)
        writer = report_html;
    if (!writer) {
        fprintf(err,
                "tokbench report: error: --format must be md, csv, json or html (got "
                "'%s')\n%s",
                format, USAGE);
        return 2;
    }
    if (!path) {
        fprintf(err, "tokbench report: error: no FILE.json given\n%s", USAGE);
        return 2;
    }

    results r;
    char msg[512];
    if (reload_file(path, &r, msg, sizeof msg)) {
        fprintf(err, "tokbench report: %s: %s\n", path, msg);
        results_free(&r);
        return 1;
    }
    FILE *f = out;
    if (output) {
        f = fopen(output, "w");
        if (!f) {
            fprintf(err, "tokbench report: cannot write %s\n", output);
            results_free(&r);
            return 1;
        }
    }
    int rc = writer(&r, f);
    if (output) {
        if (fclose(f))
            rc = -1;
    } else if (fflush(f)) {
        rc = -1;
    }
    results_free(&r);
    if (rc) {
        fprintf(err, "tokbench report: writing the %s report failed\n", format);
        return 1;
    }
    return 0;
}
