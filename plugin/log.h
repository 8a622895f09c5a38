/* log.h: the plugin's messages to Slurm's log and the user, made safe to print. */
#ifndef KPY_PLUGIN_LOG_H
#define KPY_PLUGIN_LOG_H

/* Format, escape every control byte (kpy_escape: a newline in a name or a file cannot
 * forge a log line or drive a terminal) and pass to slurm_error / slurm_info. */
void kpy_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kpy_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The same formatted and escaped message, malloc'd (for task_init to show later);
 * never NULL: out of memory gives a fixed message the caller must still free. */
char *kpy_log_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
