/* Leveled logging to stderr. stdout is reserved for reports. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int log_parse_level(const char *name);
/* A status line on stderr (client/ttyline.c) that log lines must not cut
 * through: before(ctx) runs just before each log line is written and should
 * erase it; after(ctx) runs just after and may redraw it. Both run with stderr
 * locked (flockfile), so the three writes stay together. Pass NULLs to
 * remove; ctx is borrowed. */
typedef void (*log_line_hook)(void *ctx);
void log_set_line_hooks(log_line_hook before, log_line_hook after, void *ctx);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
