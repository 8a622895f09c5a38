/* venvfacts.c: what a venv says about itself (prompt, base interpreter, pyvenv.cfg) and
 * what makes a path fit to be its prefix. */
#include "autoconfig.h"
#include "venvfacts.h"
#include "fdio.h"
#include "kv.h"
#include "tree.h"
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The first MAX bytes of PATH, NUL-terminated and malloc'd, or NULL. */
char *kpy_slurp(const char *path, size_t max)
{
	char *text;

	return kpy_read_file(path, max, 0, &text, NULL, NULL, NULL) < 0 ? NULL : text;
}

/* The prompt name in SRC/bin/activate ("(NAME) " or NAME), else pyvenv.cfg's, else
 * the directory's name. */
char *kpy_venv_prompt(const char *src, const char *cfg)
{
	char path[PATH_MAX], *act, *out = NULL;

	struct kpy_err ignore = KPY_ERR_INIT;

	if (kpy_pathf(path, sizeof(path), &ignore, "%s/bin/activate", src) == 0 &&
	    (act = kpy_slurp(path, 1 << 20)) != NULL) {
		const char *p = strstr(act, "VIRTUAL_ENV_PROMPT=");
		if (p != NULL) {
			p += strlen("VIRTUAL_ENV_PROMPT=");
			size_t n = strcspn(p, "\n");
			if (n > 0 && (*p == '"' || *p == '\'') && p[n - 1] == *p)
				p++, n -= 2;
			if (n > 1 && *p == '(') {
				const char *c = memchr(p, ')', n);
				if (c != NULL)
					n = (size_t)(c - p - 1), p++;
			}
			if (n > 0 && n < 256 && !memchr(p, '$', n))
				out = strndup(p, n);
		}
		free(act);
	}
	if (out == NULL && cfg != NULL && (out = kpy_kv_get(cfg, "prompt")) != NULL) {
		size_t n = strlen(out);
		if (n >= 2 && (out[0] == '\'' || out[0] == '"') && out[n - 1] == out[0]) {
			memmove(out, out + 1, n - 2);
			out[n - 2] = '\0';
		}
	}
	if (out == NULL) {
		const char *b = strrchr(src, '/');
		out = strdup(b ? b + 1 : src);
	}
	return out;
}

/* What bin/python finally runs, outside the env. */
char *kpy_venv_base_python(const char *src, const char *cfg)
{
	char path[PATH_MAX], real[PATH_MAX];
	size_t sl = strlen(src);

	struct kpy_err ignore = KPY_ERR_INIT;

	if (kpy_pathf(path, sizeof(path), &ignore, "%s/bin/python", src) == 0 &&
	    realpath(path, real) != NULL && !(strncmp(real, src, sl) == 0 && real[sl] == '/'))
		return strdup(real);
	return cfg ? kpy_kv_get(cfg, "executable") : NULL;
}

/* Why PATH cannot be an env's prefix, or NULL: the manifest keeps values unquoted
 * (no control bytes, no blank at the end), and the activate scripts quote the path
 * in single quotes (no '). */
const char *kpy_bad_prefix(const char *path, int quote_ok)
{
	size_t n = strlen(path);

	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "it holds a control character (a newline?)";
	if (n > 0 && (path[n - 1] == ' ' || path[n - 1] == '\t'))
		return "it ends in a blank";
	if (!quote_ok && strchr(path, '\'') != NULL)
		return "a quote (') in it would break the env's activate scripts";
	return NULL;
}

/* Write NAME in the directory DIR atomically with DATA. */
int kpy_put_file_at(const char *dir, const char *name, const char *data, size_t len,
		       struct kpy_err *e)
{
	char path[PATH_MAX];

	if (kpy_pathf(path, sizeof(path), e, "%s/%s", dir, name) < 0)
		return -1;
	return kpy_write_file(AT_FDCWD, path, data, len, 0644, KPY_PUBLISH_KEEPMODE, e);
}

/* venv's Activate.ps1 takes the prompt from pyvenv.cfg: make its "prompt = ..." line
 * (if it has one) name PROMPT, as the other activate scripts do. A name is letters,
 * digits, '.', '_' and '-', so it needs no escaping inside the quotes. */
int kpy_venv_set_cfg_prompt(const char *root, const char *prompt, struct kpy_err *e)
{
	char path[PATH_MAX], *cfg, *out = NULL;
	struct kpy_kv kv;
	size_t pos = 0, len;
	int rv = 0, r;

	if (kpy_pathf(path, sizeof(path), e, "%s/pyvenv.cfg", root) < 0)
		return -1;
	if ((cfg = kpy_slurp(path, 1 << 16)) == NULL)
		return 0;
	len = strlen(cfg);
	while ((r = kpy_kv_next(cfg, len, &pos, &kv)) != 0) {
		if (r < 0 || !kpy_kv_is(&kv, "prompt"))
			continue;
		/* the line, up to its own end of line, becomes prompt = 'PROMPT' */
		const char *line = cfg + kv.start, *rest = line + strcspn(line, "\n");
		if (rest > line && rest[-1] == '\r')
			rest--;
		if (asprintf(&out, "%.*sprompt = '%s'%s", (int)kv.start, cfg, prompt, rest) < 0)
			rv = kpy_err_set(e, KPY_EFAIL, "out of memory");
		else if (strcmp(out, cfg) != 0)
			rv = kpy_put_file_at(root, "pyvenv.cfg", out, strlen(out), e);
		break;
	}
	free(out);
	free(cfg);
	return rv;
}

mode_t kpy_current_umask(void)
{
	mode_t m = umask(022);
	umask(m);
	return m;
}

int kpy_venv_missing_python(const char *archive, const char *python,
			  const struct kpy_manifest *m, struct kpy_err *e)
{
	const char *v = m->python_version ? m->python_version : "3";

	return kpy_err_set(e, KPY_ENOPYTHON,
			   "the environment in %s needs the Python interpreter %s (Python %s), which is missing on this machine",
			   archive, python, v);
}

/* Base interpreter of the restored venv at ROOT, which will be renamed to DEST:
 * bin/python must lead to a file. Links into DEST are followed inside ROOT. */
int kpy_venv_check_python(const char *root, const char *dest, const struct kpy_manifest *m,
			const char *archive, struct kpy_err *e)
{
	char path[PATH_MAX], link[PATH_MAX], shown[PATH_MAX];
	size_t dl = strlen(dest);
	struct stat st;
	int hops = 0;

	if (kpy_pathf(path, sizeof(path), e, "%s/bin/python", root) < 0)
		return -1;
	snprintf(shown, sizeof(shown), "%s/bin/python", dest);
	if (lstat(path, &st) < 0)
		return 0;
	/* follow the chain by hand, to look inside ROOT and to name the first missing link */
	while (hops++ < 40) {
		if (lstat(path, &st) < 0)
			return kpy_venv_missing_python(archive, shown, m, e);
		if (!S_ISLNK(st.st_mode))
			return 0;
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			break;
		link[n] = '\0';
		if (link[0] == '/') {
			snprintf(shown, sizeof(shown), "%s", link);
			if (strncmp(link, dest, dl) == 0 && (link[dl] == '/' || link[dl] == '\0')) {
				if (kpy_pathf(path, sizeof(path), e, "%s%s", root, link + dl) < 0)
					return -1;
			} else {
				snprintf(path, sizeof(path), "%s", link);
			}
		} else {
			char *slash = strrchr(path, '/'), *sslash = strrchr(shown, '/');
			size_t room = sizeof(path) - (size_t)(slash + 1 - path);
			if (strlen(link) >= room || sslash == NULL)
				break;
			memcpy(slash + 1, link, strlen(link) + 1);
			snprintf(sslash + 1, sizeof(shown) - (size_t)(sslash + 1 - shown), "%s", link);
		}
	}
	return stat(path, &st) == 0 ? 0 : kpy_venv_missing_python(archive, shown, m, e);
}
