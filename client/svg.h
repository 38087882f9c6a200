/* Small helpers that draw inline SVG line charts into a buf: a plot frame
 * with axes, grid and tick labels, polylines with point markers, a legend,
 * and XML-escaped text. Pure formatting: the caller supplies the data and
 * the output is a deterministic function of it (coordinates are printed
 * with one decimal, so golden tests can compare bytes). */
#ifndef CLIENT_SVG_H
#define CLIENT_SVG_H

#include <stddef.h>

#include "../common/buf.h"

/* How the x axis places values. SVG_X_LINEAR maps x to position linearly;
 * SVG_X_CATEGORY places the chart's category values (svg_chart.categories)
 * at even spacing, and a point's x must be one of them. */
enum svg_x_scale { SVG_X_LINEAR = 0, SVG_X_CATEGORY = 1 };

#define SVG_MAX_TICKS 12
#define SVG_MAX_CATEGORIES 64

/* One chart. Fill title..y_label and the data range, then call svg_begin.
 * Strings are borrowed and escaped when written. */
typedef struct svg_chart {
    const char *id;    /* the <svg> element id, or NULL */
    const char *title; /* drawn above the plot and as <title> */
    const char *x_label, *y_label;
    int width_px, height_px; /* whole chart; 0 = 560 x 320 */
    enum svg_x_scale x_scale;
    double categories[SVG_MAX_CATEGORIES]; /* ascending, for SVG_X_CATEGORY */
    size_t n_categories;
    /* Data range; svg_begin widens it to "nice" tick bounds. With
     * y_from_zero the y axis starts at 0 when every value is positive. */
    double x_min, x_max, y_min, y_max;
    int y_from_zero;
    /* Room kept right of the plot for the legend (svg_legend_width_px), and
     * its number of entries: the chart grows taller when they need it. */
    double legend_width_px;
    size_t legend_rows;
    /* Set by svg_begin: the plot area in pixels and the final ranges. */
    double px_left, px_right, px_top, px_bottom;
} svg_chart;

/* Chooses at most max_ticks round tick values (steps of 1, 2, 2.5 or 5
 * times a power of ten) covering [lo, hi]; widens lo and hi to the outer
 * ticks. A degenerate or non-finite range is opened up around its value.
 * Returns the number of ticks written to ticks (<= SVG_MAX_TICKS). */
size_t svg_nice_ticks(double *lo, double *hi, size_t max_ticks, double *ticks);

/* Grows the chart's data range to include (x, y); NaN or infinite values
 * are ignored. Call after setting the range to the first point, or after
 * svg_range_reset. */
void svg_range_reset(svg_chart *c);
void svg_range_add(svg_chart *c, double x, double y);

/* Writes the opening <svg> element, the title, the grid, both axes with
 * tick labels and axis labels. */
void svg_begin(buf *out, svg_chart *c);
/* Line styles: solid, dashed, dotted. */
enum svg_dash { SVG_SOLID = 0, SVG_DASHED = 1, SVG_DOTTED = 2 };

/* A polyline through the points (a NaN or unplaceable point breaks the
 * line into pieces), with a circle marker at each point when markers is
 * set, so that a series of one point is still visible. colour is a CSS
 * colour. name (escaped) becomes the <title> of the group (a hover tip). */
void svg_series(buf *out, const svg_chart *c, const double *x, const double *y, size_t n,
                const char *colour, enum svg_dash dash, int markers, const char *name);
/* The width a legend of these names needs; store it in legend_width_px
 * before svg_begin so that the legend sits beside the plot, not on it. */
double svg_legend_width_px(const char *const *names, size_t n);
/* A legend right of the plot (inside its top right corner when no room was
 * kept), one entry per name; dash may be NULL (all solid). */
void svg_legend(buf *out, const svg_chart *c, const char *const *names, const char *const *colours,
                const enum svg_dash *dash, size_t n);
/* A centred note inside the plot (e.g. "no data"). */
void svg_note(buf *out, const svg_chart *c, const char *text);
void svg_end(buf *out);

/* Appends s with &, <, >, " and ' replaced by entities; bytes below 0x20
 * other than tab and newline (not allowed in XML) become U+FFFD. */
void svg_escape(buf *out, const char *s);
/* A tick label: up to 4 significant digits, no exponent below 1e9,
 * thousands written plainly ("4096", "0.25", "1.5e+09"). */
void svg_format_number(char *out, size_t size, double v);

/* The palette colour for series i (cycles). */
const char *svg_colour(size_t i);

#endif
