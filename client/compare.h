/* `tokbench compare A.json B.json`: two saved results (tokbench's or
 * llama-benchy's JSON) side by side, cell by cell, with the relative change
 * of each metric's mean and a Mann-Whitney U note on whether the per-run
 * values differ by more than noise. */
#ifndef CLIENT_COMPARE_H
#define CLIENT_COMPARE_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* Significance level of the notes. */
#define COMPARE_ALPHA 0.05

/* Writes the significance note for two samples of per-run values into out:
 * "p=0.03 (significant at 5%)", "p=0.4 (not significant)", "not significant
 * (n=3 vs 3: too few runs to tell)" or "no per-run values". Borrows a and b. */
void compare_note(const double *a, size_t na, const double *b, size_t nb, char *out, size_t size);

/* Prints the comparison of two parsed result documents (borrowed) to out;
 * name_a and name_b label them. Returns the number of cells found in both,
 * or -1 when a document has no "benchmarks" list (message on err). */
int compare_docs(const cJSON *a, const cJSON *b, const char *name_a, const char *name_b, FILE *out,
                 FILE *err);

#endif
