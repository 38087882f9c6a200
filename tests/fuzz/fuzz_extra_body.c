/* libFuzzer target: tokbench's --extra-body parser (client/cli.h,
 * cli_parse_extra_body), fed any C string. Accepted input leaves a JSON
 * object that prints and parses back; refused input gives a one-line reason
 * and no leak. The same argument applied twice must give the same object
 * (later keys replace earlier ones, so it is idempotent). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *arg = fuzz_cstring(data, size);
    if (!arg)
        return 0;
    cJSON *obj = cJSON_CreateObject();
    char err[512] = "";
    int rc = cli_parse_extra_body(arg, obj, err, sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    FUZZ_ASSERT(cJSON_IsObject(obj));
    if (rc) {
        FUZZ_ASSERT(err[0] != '\0');
    } else {
        char *once = cJSON_PrintUnformatted(obj);
        FUZZ_ASSERT(once != NULL);
        cJSON *back = cJSON_Parse(once);
        FUZZ_ASSERT(cJSON_IsObject(back));
        cJSON_Delete(back);
        FUZZ_ASSERT(cli_parse_extra_body(arg, obj, err, sizeof err) == 0);
        char *twice = cJSON_PrintUnformatted(obj);
        FUZZ_ASSERT(twice != NULL && strcmp(once, twice) == 0);
        free(once);
        free(twice);
    }
    cJSON_Delete(obj);
    free(arg);
    return 0;
}
