/* Inline SVG line charts for the HTML report (see svg.h). */
#include "svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_WIDTH_PX 560
#define DEFAULT_HEIGHT_PX 320
#define MARGIN_LEFT_PX 68
#define MARGIN_RIGHT_PX 18
#define MARGIN_TOP_PX 38
#define MARGIN_BOTTOM_PX 50

static const char *const PALETTE[] = {"#1f6fb4", "#e0701a", "#2a9d3a", "#c8323c", "#7b52ab",
                                      "#8c564b", "#d0579e", "#6b6b6b", "#a4a81c", "#17a2b8"};

const char *svg_colour(size_t i)
{
    return PALETTE[i % (sizeof PALETTE / sizeof PALETTE[0])];
}

void svg_escape(buf *out, const char *s)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&':
            buf_append_str(out, "&amp;");
            break;
        case '<':
            buf_append_str(out, "&lt;");
            break;
        case '>':
            buf_append_str(out, "&gt;");
            break;
        case '"':
            buf_append_str(out, "&quot;");
            break;
        case '\'':
            buf_append_str(out, "&#39;");
            break;
        default:
            if (*p < 0x20 && *p != '\t' && *p != '\n')
                buf_append_str(out, "\xef\xbf\xbd");
            else
                buf_append(out, p, 1);
        }
    }
}

void svg_format_number(char *out, size_t size, double v)
{
    if (!isfinite(v))
        snprintf(out, size, "%s", isnan(v) ? "NaN" : v < 0 ? "-inf" : "inf");
    else if (v == 0)
        snprintf(out, size, "0");
    else if (fabs(v) >= 1e9)
        snprintf(out, size, "%.3g", v);
    else if (fabs(v) >= 1000 && v == floor(v))
        snprintf(out, size, "%.0f", v);
    else if (fabs(v) >= 1000)
        snprintf(out, size, "%.1f", v);
    else
        snprintf(out, size, "%.4g", v);
}

size_t svg_nice_ticks(double *lo, double *hi, size_t max_ticks, double *ticks)
{
    if (max_ticks < 2)
        max_ticks = 2;
    if (max_ticks > SVG_MAX_TICKS)
        max_ticks = SVG_MAX_TICKS;
    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
    }
    if (*lo > *hi) {
        double t = *lo;
        *lo = *hi;
        *hi = t;
    }
    if (*hi - *lo <= fabs(*hi) * 1e-12) {
        double half = *lo == 0 ? 1 : fabs(*lo) / 2;
        *hi += half;
        *lo = *lo >= 0 && *lo - half < 0 ? 0 : *lo - half;
    }
    double range = *hi - *lo;
    double mag = pow(10, floor(log10(range / (double)(max_ticks - 1))));
    static const double STEPS[] = {1, 2, 2.5, 5, 10, 20};
    double step = mag * 20, first = 0, last = 0;
    for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0]; i++) {
        double s = STEPS[i] * mag;
        double f = floor(*lo / s + 1e-9) * s, l = ceil(*hi / s - 1e-9) * s;
        if ((l - f) / s + 1 <= (double)max_ticks + 1e-9) {
            step = s;
            first = f;
            last = l;
            break;
        }
    }
    if (step == mag * 20) {
        first = floor(*lo / step) * step;
        last = ceil(*hi / step) * step;
    }
    size_t n = 0;
    for (double t = first; t <= last + step * 1e-6 && n < SVG_MAX_TICKS; t += step) {
        double r = fabs(t) < step * 1e-9 ? 0 : t; /* no "-0" from rounding */
        ticks[n++] = r;
    }
    *lo = first;
    *hi = ticks[n - 1];
    return n;
}

void svg_range_reset(svg_chart *c)
{
    c->x_min = c->y_min = INFINITY;
    c->x_max = c->y_max = -INFINITY;
}

void svg_range_add(svg_chart *c, double x, double y)
{
    if (!isfinite(x) || !isfinite(y))
        return;
    if (x < c->x_min)
        c->x_min = x;
    if (x > c->x_max)
        c->x_max = x;
    if (y < c->y_min)
        c->y_min = y;
    if (y > c->y_max)
        c->y_max = y;
}

static double map_x(const svg_chart *c, double x)
{
    if (!isfinite(x))
        return NAN;
    double w = c->px_right - c->px_left;
    if (c->x_scale == SVG_X_CATEGORY) {
        for (size_t i = 0; i < c->n_categories; i++)
            if (c->categories[i] == x)
                return c->px_left + w * ((double)i + 0.5) / (double)c->n_categories;
        return NAN;
    }
    return c->px_left + w * (x - c->x_min) / (c->x_max - c->x_min);
}

static double map_y(const svg_chart *c, double y)
{
    if (!isfinite(y))
        return NAN;
    return c->px_bottom - (c->px_bottom - c->px_top) * (y - c->y_min) / (c->y_max - c->y_min);
}

static void text_at(buf *out, double x, double y, const char *anchor, const char *cls,
                    const char *s)
{
    buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y, anchor,
               cls);
    svg_escape(out, s);
    buf_append_str(out, "</text>\n");
}

void svg_begin(buf *out, svg_chart *c)
{
    int w = c->width_px > 0 ? c->width_px : DEFAULT_WIDTH_PX;
    int h = c->height_px > 0 ? c->height_px : DEFAULT_HEIGHT_PX;
    int legend_h = MARGIN_TOP_PX + 20 + 16 * (int)(c->legend_rows > 200 ? 200 : c->legend_rows) +
                   MARGIN_BOTTOM_PX;
    if (c->legend_width_px > 0 && legend_h > h)
        h = legend_h;
    c->px_left = MARGIN_LEFT_PX;
    c->px_right = w - MARGIN_RIGHT_PX - c->legend_width_px;
    c->px_top = MARGIN_TOP_PX;
    c->px_bottom = h - MARGIN_BOTTOM_PX;

    double yt[SVG_MAX_TICKS], xt[SVG_MAX_TICKS];
    if (!isfinite(c->y_min) || !isfinite(c->y_max)) {
        c->y_min = 0;
        c->y_max = 1;
    }
    if (c->y_from_zero && c->y_min > 0)
        c->y_min = 0;
    size_t n_yt = svg_nice_ticks(&c->y_min, &c->y_max, 6, yt);
    size_t n_xt = 0;
    if (c->x_scale == SVG_X_LINEAR) {
        if (!isfinite(c->x_min) || !isfinite(c->x_max)) {
            c->x_min = 0;
            c->x_max = 1;
        }
        n_xt = svg_nice_ticks(&c->x_min, &c->x_max, 8, xt);
    }

    buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"");
    if (c->id) {
        buf_append_str(out, " id=\"");
        svg_escape(out, c->id);
        buf_append_str(out, "\"");
    }
    buf_printf(out, " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n<title>", w,
               h, w, h);
    svg_escape(out, c->title);
    buf_append_str(out, "</title>\n");
    buf_printf(out, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>\n", w, h);
    text_at(out, w / 2.0, 22, "middle", "ctitle", c->title);

    char label[64];
    for (size_t i = 0; i < n_yt; i++) {
        double y = map_y(c, yt[i]);
        buf_printf(out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                   c->px_left, y, c->px_right, y);
        svg_format_number(label, sizeof label, yt[i]);
        text_at(out, c->px_left - 6, y + 4, "end", "tick", label);
    }
    if (c->x_scale == SVG_X_CATEGORY) {
        for (size_t i = 0; i < c->n_categories; i++) {
            double x = map_x(c, c->categories[i]);
            buf_printf(out,
                       "<line class=\"tickmark\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                       "y2=\"%.1f\"/>\n",
                       x, c->px_bottom, x, c->px_bottom + 5);
            svg_format_number(label, sizeof label, c->categories[i]);
            text_at(out, x, c->px_bottom + 18, "middle", "tick", label);
        }
    } else {
        for (size_t i = 0; i < n_xt; i++) {
            double x = map_x(c, xt[i]);
            buf_printf(out,
                       "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       x, c->px_top, x, c->px_bottom);
            svg_format_number(label, sizeof label, xt[i]);
            text_at(out, x, c->px_bottom + 18, "middle", "tick", label);
        }
    }
    buf_printf(out, "<path class=\"axis\" d=\"M%.1f %.1fV%.1fH%.1f\"/>\n", c->px_left, c->px_top,
               c->px_bottom, c->px_right);
    text_at(out, (c->px_left + c->px_right) / 2, h - 10.0, "middle", "alabel", c->x_label);
    buf_printf(out,
               "<text class=\"alabel\" text-anchor=\"middle\" "
               "transform=\"translate(16 %.1f) rotate(-90)\">",
               (c->px_top + c->px_bottom) / 2);
    svg_escape(out, c->y_label);
    buf_append_str(out, "</text>\n");
}

static const char *dash_attr(enum svg_dash dash)
{
    return dash == SVG_DASHED   ? " stroke-dasharray=\"7 4\""
           : dash == SVG_DOTTED ? " stroke-dasharray=\"2 3\""
                                : "";
}

void svg_series(buf *out, const svg_chart *c, const double *x, const double *y, size_t n,
                const char *colour, enum svg_dash dash, int markers, const char *name)
{
    buf_append_str(out, "<g class=\"series\">");
    if (name) {
        buf_append_str(out, "<title>");
        svg_escape(out, name);
        buf_append_str(out, "</title>");
    }
    buf_append_str(out, "\n");
    int open = 0;
    for (size_t i = 0; i <= n; i++) {
        double px = i < n ? map_x(c, x[i]) : NAN, py = i < n ? map_y(c, y[i]) : NAN;
        if (isnan(px) || isnan(py)) {
            if (open)
                buf_printf(out, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", colour,
                           dash_attr(dash));
            open = 0;
            continue;
        }
        buf_printf(out, "%s%.1f,%.1f", open ? " " : "<polyline points=\"", px, py);
        open = 1;
    }
    if (markers)
        for (size_t i = 0; i < n; i++) {
            double px = map_x(c, x[i]), py = map_y(c, y[i]);
            if (!isnan(px) && !isnan(py))
                buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", px, py,
                           colour);
        }
    buf_append_str(out, "</g>\n");
}

double svg_legend_width_px(const char *const *names, size_t n)
{
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        longest = len > longest ? len : longest;
    }
    return n ? 44 + 6.2 * (double)(longest > 40 ? 40 : longest) : 0;
}

void svg_legend(buf *out, const svg_chart *c, const char *const *names, const char *const *colours,
                const enum svg_dash *dash, size_t n)
{
    if (n == 0)
        return;
    double w = svg_legend_width_px(names, n) - 10;
    double h = 8 + 16.0 * (double)n;
    double x0 = c->legend_width_px > 0 ? c->px_right + 10 : c->px_right - w - 6;
    double y0 = c->px_top + 6;
    buf_printf(out,
               "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
               "height=\"%.1f\" rx=\"3\"/>\n",
               x0, y0, w, h);
    for (size_t i = 0; i < n; i++) {
        double y = y0 + 14 + 16.0 * (double)i;
        buf_printf(out,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"2\"%s/>\n",
                   x0 + 6, y - 4, x0 + 26, y - 4, colours[i],
                   dash_attr(dash ? dash[i] : SVG_SOLID));
        text_at(out, x0 + 30, y, "start", "ltext", names[i]);
    }
    buf_append_str(out, "</g>\n");
}

void svg_note(buf *out, const svg_chart *c, const char *text)
{
    text_at(out, (c->px_left + c->px_right) / 2, (c->px_top + c->px_bottom) / 2, "middle", "note",
            text);
}

void svg_end(buf *out)
{
    buf_append_str(out, "</svg>\n");
}
