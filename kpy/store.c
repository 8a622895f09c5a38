/* store.c: the pipdir: valid names, archive paths, listing and removing saved archives. */
#include "autoconfig.h"
#include "store.h"
#include "buf.h"
#include "envarchive.h"
#include "live.h"
#include "text.h"
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUFFIX ".tar.zst"

int kpy_name_check(const char *name, const char *what, struct kpy_err *e)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return kpy_err_set(e, KPY_EINVAL, "the %s is empty: use letters, digits, '.', '_' and '-'", what);
	if (n > KPY_NAME_MAX)
		return kpy_err_set(e, KPY_EINVAL, "the %s '%.20s...' is %zu bytes long; the limit is %d", what, name, n, KPY_NAME_MAX);
	if (name[0] == '-' || name[0] == '.')
		return kpy_err_set(e, KPY_EINVAL, "the %s '%s' starts with '%c': start it with a letter, digit or '_'", what, name, name[0]);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			continue;
		if (c < 0x20 || c >= 0x7f)
			return kpy_err_set(e, KPY_EINVAL, "the %s contains the byte 0x%02x: use only letters, digits, '.', '_' and '-'", what, c);
		return kpy_err_set(e, KPY_EINVAL, "the %s '%s' contains '%c': use only letters, digits, '.', '_' and '-'", what, name, c);
	}
	return 0;
}

char *kpy_store_dir(const char *pipdir, const char *kind)
{
	char *out;
	const char *sub = strcmp(kind, KPY_KIND_UV) == 0 ? "uv_caches" : "venv_archives";

	if (strcmp(kind, KPY_KIND_SCRIPT) == 0)
		sub = "script_envs";

	return asprintf(&out, "%s/%s", pipdir, sub) < 0 ? NULL : out;
}

char *kpy_store_path(const char *pipdir, const char *kind, const char *name)
{
	char *dir = kpy_store_dir(pipdir, kind), *out = NULL;

	if (dir != NULL && asprintf(&out, "%s/%s" SUFFIX, dir, name) < 0)
		out = NULL;
	free(dir);
	return out;
}

static int check_dir(const char *path, const char *what, unsigned flags, struct kpy_err *e)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT && (flags & KPY_STORE_CREATE))
			return kpy_mkdirs(path, 0755, e);
		if (errno == ENOENT)
			return kpy_err_set(e, KPY_EPIPDIR, "%s %s does not exist", what, path);
		return kpy_err_sys(e, errno, "cannot use %s %s", what, path);
	}
	if (!S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EPIPDIR, "%s %s is not a directory", what, path);
	if ((flags & KPY_STORE_WRITABLE) && access(path, W_OK | X_OK) < 0)
		return kpy_err_set(e, KPY_EPIPDIR, "%s %s is read-only%s", what, path,
				   errno == EROFS ? " (a read-only file system)" : " for you");
	if (access(path, R_OK | X_OK) < 0)
		return kpy_err_set(e, KPY_EPIPDIR, "%s %s is not readable by you", what, path);
	return 0;
}

int kpy_store_check(const char *pipdir, const char *kind, unsigned flags, struct kpy_err *e)
{
	char *dir;
	int rv;

	if (check_dir(pipdir, "pipdir", flags, e) < 0)
		return -1;
	if ((dir = kpy_store_dir(pipdir, kind)) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	rv = check_dir(dir, "archive directory", flags, e);
	free(dir);
	return rv;
}

/* kpy_store_find in PIPDIR, which messages call LABEL ("pipdir", "site pipdir"). */
static char *find_in(const char *pipdir, const char *label, const char *kind, const char *name,
		     struct kpy_err *e)
{
	char *path;

	char what[40];

	snprintf(what, sizeof(what), "%s name", kpy_store_noun(kind));
	if (kpy_name_check(name, what, e) < 0 || check_dir(pipdir, label, 0, e) < 0)
		return NULL;
	/* a pipdir without the archive directory of KIND: nothing of that kind saved */
	char *dir = kpy_store_dir(pipdir, kind);
	struct stat st;
	int none = dir != NULL && stat(dir, &st) < 0 && errno == ENOENT;
	free(dir);
	if (none) {
		kpy_store_missing(pipdir, kind, name, e);
		return NULL;
	}
	if (kpy_store_check(pipdir, kind, 0, e) < 0)
		return NULL;
	if ((path = kpy_store_path(pipdir, kind, name)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		return NULL;
	}
	if (access(path, F_OK) < 0) {
		if (errno == ENOENT)
			kpy_store_missing(pipdir, kind, name, e);
		else
			kpy_err_sys(e, errno, "cannot use %s", path);
		free(path);
		return NULL;
	}
	return path;
}

char *kpy_store_find(const char *pipdir, const char *kind, const char *name, struct kpy_err *e)
{
	return find_in(pipdir, "pipdir", kind, name, e);
}

const char *kpy_store_bare(const char *name)
{
	size_t n = strlen(KPY_SITE_PREFIX);

	return name != NULL && strncmp(name, KPY_SITE_PREFIX, n) == 0 ? name + n : name;
}

char **kpy_site_dirs(const char *list)
{
	size_t n = 0, k = 0;
	char **v;

	for (const char *p = list; p != NULL && *p; p++)
		n += *p == ':';
	if ((v = calloc(n + 2, sizeof(*v))) == NULL)
		return NULL;
	for (const char *p = list; p != NULL && *p; ) {
		size_t l = strcspn(p, ":");
		if (l > 0 && (v[k++] = strndup(p, l)) == NULL) {
			kpy_strv_free(v);
			return NULL;
		}
		p += l;
		p += *p == ':';
	}
	return v;
}

int kpy_site_check(const char *dir, unsigned flags, struct kpy_err *e)
{
	struct kpy_err de = KPY_ERR_INIT;

	if (check_dir(dir, "the site pipdir", flags & KPY_STORE_WRITABLE, &de) < 0)
		return kpy_err_set(e, KPY_ESITE, "%s", de.msg);
	return 0;
}

char *kpy_store_lookup(const char *pipdir, const char *sites, const char *kind,
		       const char *name, char **found_in, struct kpy_err *e)
{
	const char *bare = kpy_store_bare(name);
	int site_only = bare != name, readable = 0;
	struct kpy_err ue = KPY_ERR_INIT;
	struct kpy_buf why = KPY_BUF_INIT;
	char **dirs = NULL, *path = NULL, what[40];

	if (found_in != NULL)
		*found_in = NULL;
	snprintf(what, sizeof(what), "%s name", kpy_store_noun(kind));
	if (kpy_name_check(bare, what, e) < 0)
		return NULL;
	if (!site_only) {
		if ((path = find_in(pipdir, "pipdir", kind, bare, &ue)) != NULL) {
			if (found_in != NULL && (*found_in = strdup(pipdir)) == NULL) {
				free(path);
				kpy_err_set(e, KPY_EFAIL, "out of memory");
				return NULL;
			}
			return path;
		}
		/* only a name the user's pipdir lacks (or a pipdir not made yet) is the site's: a
		 * pipdir that is there but unreadable (or not a directory, or not mounted on
		 * this node while its parent is) is an error, lest nodes of one job restore
		 * different archives */
		struct stat pst;
		int absent = ue.code == KPY_EPIPDIR && pipdir != NULL && lstat(pipdir, &pst) < 0 && errno == ENOENT;
		if ((ue.code != KPY_ENOSAVED && !absent) || sites == NULL || sites[0] == '\0') {
			kpy_err_set(e, ue.code, "%s", ue.msg);
			return NULL;
		}
	}
	if (sites == NULL || sites[0] == '\0') {
		kpy_err_set(e, KPY_ESITE, "'%s' names the site store, but none is set up here (no site_pipdir "
			    "in the site configuration): there is no site %s '%s'", name, kpy_store_noun(kind), bare);
		return NULL;
	}
	if ((dirs = kpy_site_dirs(sites)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		return NULL;
	}
	for (size_t i = 0; dirs[i] != NULL; i++) {
		struct kpy_err se = KPY_ERR_INIT;

		if (kpy_site_check(dirs[i], 0, &se) == 0 &&
		    (path = find_in(dirs[i], "site pipdir", kind, bare, &se)) != NULL) {
			if (found_in != NULL && (*found_in = strdup(dirs[i])) == NULL) {
				free(path);
				path = NULL;
				kpy_err_set(e, KPY_EFAIL, "out of memory");
			}
			goto out;
		}
		readable |= se.code != KPY_ESITE;
		kpy_buf_addf(&why, "%s%s", why.len ? "; " : "", se.msg);
	}
	if (why.oom)
		kpy_err_set(e, KPY_EFAIL, "out of memory");
	else if (site_only)
		kpy_err_set(e, readable ? KPY_ENOSAVED : KPY_ESITE, "no site %s '%s': %s", kpy_store_noun(kind), bare, why.p);
	else
		kpy_err_set(e, ue.code, "%s; nor in the site store: %s", ue.msg, why.p);
out:
	kpy_buf_free(&why);
	kpy_strv_free(dirs);
	return path;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct kpy_saved *)a)->name, ((const struct kpy_saved *)b)->name);
}

int kpy_store_list(const char *pipdir, const char *kind, int manifests,
		   struct kpy_saved **out, size_t *n, struct kpy_err *e)
{
	char *dir = kpy_store_dir(pipdir, kind), *path = NULL;
	struct kpy_saved *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int rv = -1;

	*out = NULL;
	*n = 0;
	if (dir == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	if ((d = opendir(dir)) == NULL) {
		int err = errno;
		if (err != ENOENT)
			kpy_err_sys(e, err, "cannot list saved environments in %s", dir);
		free(dir);
		return err == ENOENT ? 0 : -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		struct kpy_err ignore = KPY_ERR_INIT;
		struct stat st;

		if (l <= strlen(SUFFIX) || strcmp(de->d_name + l - strlen(SUFFIX), SUFFIX) != 0)
			continue;
		char *name = strndup(de->d_name, l - strlen(SUFFIX));
		if (name == NULL)
			goto oom;
		if (kpy_name_check(name, "name", &ignore) < 0) {
			free(name);
			continue; /* temporary files and foreign names are not saved envs */
		}
		struct kpy_saved *nv = kpy_grow(v, &cap, cnt, sizeof(*v), 16);
		if (nv == NULL) {
			free(name);
			goto oom;
		}
		v = nv;
		memset(&v[cnt], 0, sizeof(v[cnt]));
		v[cnt].name = name;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			path = NULL;
			free(v[cnt].name);
			goto oom;
		}
		if (stat(path, &st) == 0)
			v[cnt].size = st.st_size;
		if (manifests && kpy_archive_manifest(path, &v[cnt].m, &ignore) < 0)
			v[cnt].damaged = 1;
		free(path);
		path = NULL;
		cnt++;
	}
	if (errno != 0) {
		kpy_err_sys(e, errno, "cannot list saved environments in %s", dir);
		goto out;
	}
	if (cnt > 0) {
		qsort(v, cnt, sizeof(*v), by_name);
		*out = v;
		*n = cnt;
		v = NULL;
		cnt = 0;
	}
	rv = 0;
	goto out;
oom:
	kpy_err_set(e, KPY_EFAIL, "out of memory listing %s", dir);
out:
	kpy_saved_free(v, cnt);
	closedir(d);
	free(dir);
	return rv;
}

void kpy_saved_free(struct kpy_saved *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		kpy_manifest_free(&v[i].m);
	}
	free(v);
}

/* ", " joined names of saved archives, or "none"; malloc'd. *CLOSEST (malloc'd, or
 * NULL) is the saved name closest to NAME, if any is close enough to be a typo of it. */
static char *saved_names(const char *pipdir, const char *kind, const char *name, char **closest)
{
	struct kpy_err ignore = KPY_ERR_INIT;
	struct kpy_saved *v;
	const char **cands;
	const char *best;
	size_t n, len = 0;
	char *s;

	*closest = NULL;
	if (kpy_store_list(pipdir, kind, 0, &v, &n, &ignore) < 0)
		return strdup("none");
	if (n == 0) {
		kpy_saved_free(v, n);
		return strdup("none");
	}
	if ((cands = calloc(n + 1, sizeof(*cands))) != NULL) {
		for (size_t i = 0; i < n; i++)
			cands[i] = v[i].name;
		if ((best = kpy_suggest(name, cands)) != NULL)
			*closest = strdup(best);
		free(cands);
	}
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i].name) + 2;
	if ((s = malloc(len + 1)) != NULL) {
		s[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			if (i)
				strcat(s, ", ");
			strcat(s, v[i].name);
		}
	}
	kpy_saved_free(v, n);
	return s;
}

const char *kpy_store_noun(const char *kind)
{
	return strcmp(kind, KPY_KIND_UV) == 0 ? "uv cache" : "environment";
}

int kpy_store_missing(const char *pipdir, const char *kind, const char *name,
		      struct kpy_err *e)
{
	char *closest, *names = saved_names(pipdir, kind, name, &closest);
	const char *other = strcmp(kind, KPY_KIND_UV) == 0 ? KPY_KIND_VENV : KPY_KIND_UV;
	char *there = kpy_store_path(pipdir, other, name), also[128] = "";

	/* the same name saved as the other kind is the likeliest mix-up */
	if (there != NULL && access(there, F_OK) == 0)
		snprintf(also, sizeof(also), " (a saved %s has that name)", kpy_store_noun(other));
	free(there);
	if (closest != NULL)
		kpy_err_set(e, KPY_ENOSAVED, "no saved %s named '%s' in %s%s; did you mean '%s'? saved: %s",
			    kpy_store_noun(kind), name, pipdir, also, closest, names ? names : "none");
	else
		kpy_err_set(e, KPY_ENOSAVED, "no saved %s named '%s' in %s%s; saved: %s",
			    kpy_store_noun(kind), name, pipdir, also, names ? names : "none");
	free(closest);
	free(names);
	return -1;
}

int kpy_store_rm(const char *pipdir, const char *kind, const char *name, struct kpy_err *e)
{
	char *path;
	int rv = 0;

	if (kpy_name_check(name, "environment name", e) < 0)
		return -1;
	if ((path = kpy_store_path(pipdir, kind, name)) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	if (unlink(path) < 0)
		rv = errno == ENOENT ? kpy_store_missing(pipdir, kind, name, e)
				     : kpy_err_sys(e, errno, "cannot remove %s", path);
	free(path);
	return rv;
}
