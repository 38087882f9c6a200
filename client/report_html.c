/* Placeholder until the HTML writer lands (this session). */
#include "client/report.h"

int report_html(const results *r, FILE *f)
{
    (void)r;
    fputs("<!-- HTML report not implemented yet -->\n", f);
    return -1;
}
