/* fuzz_archive.c: libFuzzer target for the archive reader: kpy_archive_manifest and
 * kpy_archive_restore on hostile input, checking that nothing lands outside the target. */
#include "autoconfig.h"
#include "envarchive.h"
#include "tree.h"
#include "zseek.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

/* The work dir W (one per process) holds:
 *   W/in.tar.zst    the input
 *   W/sentinel/     canary files that must never change; hostile seeds aim at them
 *                   through ../../sentinel and /old/env/../../sentinel
 *   W/run/          the restore's parent dir: after a run it holds env/ or nothing
 * Inputs that do not start with a zstd frame are tar bytes: their header checksums
 * are fixed and they are compressed, so the fuzzer reaches the tar and restore
 * logic past tar's and zstd's checksums. Every other such input is written as a
 * seekable archive instead (frames of 512 B to 3.5 KiB, a seek table), so that the
 * parallel restore (kpy/zpar.c, kpy/xtract.c on several threads) meets it too;
 * inputs that are zstd already may carry a table of their own. */
static char work[PATH_MAX], in[PATH_MAX], run[PATH_MAX], dest[PATH_MAX], sent[PATH_MAX];
static char canary[PATH_MAX], sdir[PATH_MAX], cwd0[PATH_MAX];
static const char canary_text[] = "canary: kpy must never write here\n";
static struct stat sent_st, canary_st, sdir_st;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_archive: INVARIANT BROKEN: %s\n", what);
	abort();
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	FILE *f;

	snprintf(work, sizeof(work), "%s/kpy-fuzz.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(work) == NULL)
		die("cannot make the work dir");
	snprintf(in, sizeof(in), "%s/in.tar.zst", work);
	snprintf(run, sizeof(run), "%s/run", work);
	snprintf(dest, sizeof(dest), "%s/run/env", work);
	snprintf(sent, sizeof(sent), "%s/sentinel", work);
	snprintf(canary, sizeof(canary), "%s/sentinel/canary", work);
	snprintf(sdir, sizeof(sdir), "%s/sentinel/dir", work);
	if (mkdir(run, 0755) < 0 || mkdir(sent, 0755) < 0 || mkdir(sdir, 0755) < 0)
		die("cannot make the work dirs");
	if ((f = fopen(canary, "w")) == NULL || fputs(canary_text, f) < 0 || fclose(f) != 0)
		die("cannot write the canary");
	if (stat(sent, &sent_st) < 0 || stat(canary, &canary_st) < 0 || stat(sdir, &sdir_st) < 0)
		die("cannot stat the sentinel");
	if (getcwd(cwd0, sizeof(cwd0)) == NULL)
		die("getcwd");
}

static void cleanup(void)
{
	struct kpy_err e = KPY_ERR_INIT;
	if (work[0])
		kpy_rmtree(work, &e);
}

/* Names in DIR other than "." and ".."; ONLY (may be NULL) is allowed. */
static int other_entries(const char *dir, const char *only, int *saw_only)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		die("a work dir vanished");
	*saw_only = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (only && strcmp(de->d_name, only) == 0)
			*saw_only = 1;
		else
			n++;
	}
	closedir(d);
	return n;
}

static int same_st(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_nlink == b->st_nlink && a->st_uid == b->st_uid;
}

static void check_outside(int restored)
{
	struct stat st;
	char buf[sizeof(canary_text) + 8], cwd[PATH_MAX];
	int saw, fd;
	ssize_t n;

	if (lstat(sent, &st) < 0 || !same_st(&st, &sent_st))
		die("the sentinel dir changed");
	if (lstat(canary, &st) < 0 || !same_st(&st, &canary_st))
		die("the canary file changed (mode, size, mtime or links)");
	if (lstat(sdir, &st) < 0 || !same_st(&st, &sdir_st))
		die("the sentinel subdir changed");
	if ((fd = open(canary, O_RDONLY | O_NOFOLLOW)) < 0)
		die("cannot open the canary");
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != (ssize_t)strlen(canary_text) || memcmp(buf, canary_text, (size_t)n) != 0)
		die("the canary's content changed");
	if (other_entries(sent, "canary", &saw) != 1 || !saw)
		die("something was added to the sentinel dir");
	if (other_entries(sdir, NULL, &saw) != 0)
		die("something was written into the sentinel subdir");
	if (other_entries(work, "run", &saw) != 2 || !saw)
		die("something was written into the work dir beside run/");
	if (other_entries(run, "env", &saw) != 0)
		die("restore left something beside the target (a temp dir not cleaned up?)");
	if (saw != restored)
		die(restored ? "restore succeeded but the target is missing"
			     : "restore failed but left the target behind");
	if (getcwd(cwd, sizeof(cwd)) == NULL || strcmp(cwd, cwd0) != 0)
		die("restore did not return to the working directory");
}

/* Recompute the header checksum of each ustar header in the tar TAR (walking entry
 * sizes while they parse), so that mutated header fields reach libarchive's entry
 * handling instead of failing its checksum test. */
static void fix_checksums(uint8_t *tar, size_t size)
{
	size_t off = 0;

	while (off + 512 <= size && memcmp(tar + off + 257, "ustar", 5) == 0) {
		uint8_t *h = tar + off;
		unsigned long long len = 0, sum = 0;
		size_t i;

		for (i = 124; i < 136 && h[i] >= '0' && h[i] <= '7'; i++)
			len = len * 8 + (unsigned long long)(h[i] - '0');
		memset(h + 148, ' ', 8);
		for (i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06llo", sum & 0777777);
		if (len > size)
			break;
		off += 512 + (size_t)((len + 511) / 512 * 512);
	}
}

static int write_input(const uint8_t *data, size_t size)
{
	int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const void *p = data;
	void *z = NULL;
	size_t n = size;
	int rv = -1;

	if (fd < 0)
		die("cannot write the input file");
	/* zstd frame (28 b5 2f fd) or skippable frame (5? 2a 4d 18): as is */
	int is_zstd = size >= 4 && ((data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f && data[3] == 0xfd) ||
				    ((data[0] & 0xf0) == 0x50 && data[1] == 0x2a && data[2] == 0x4d && data[3] == 0x18));
	if (!is_zstd && (size / 3) % 2 == 1) {
		uint8_t *tar = malloc(size ? size : 1);
		struct kpy_zs_writer *w = NULL;
		struct kpy_err e = KPY_ERR_INIT;
		if (tar == NULL)
			die("out of memory");
		memcpy(tar, data, size);
		fix_checksums(tar, size);
		if (kpy_zs_open(fd, 1, 1, 512 * (1 + size % 7), &w, &e) < 0)
			die("kpy_zs_open failed");
		/* frame ends at some 512-byte boundaries (tar blocks), splits elsewhere */
		for (size_t at = 0; at < size;) {
			size_t k = size - at < 1024 ? size - at : 1024;
			if (kpy_zs_write(w, tar + at, k, &e) < 0 || (tar[at] & 1 && kpy_zs_end_frame(w, &e) < 0))
				die("kpy_zs_write failed");
			at += k;
		}
		rv = kpy_zs_finish(w, &e);
		kpy_zs_free(w);
		free(tar);
		close(fd);
		return rv;
	}
	if (!is_zstd) {
		ZSTD_CCtx *c = ZSTD_createCCtx();
		size_t cap = ZSTD_compressBound(size);
		uint8_t *tar = malloc(size ? size : 1);
		if (c == NULL || tar == NULL || (z = malloc(cap)) == NULL)
			die("out of memory");
		memcpy(tar, data, size);
		fix_checksums(tar, size);
		data = tar;
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
		n = ZSTD_compress2(c, z, cap, data, size);
		ZSTD_freeCCtx(c);
		free(tar);
		if (ZSTD_isError(n))
			die("ZSTD_compress2 failed");
		p = z;
	}
	if (write(fd, p, n) == (ssize_t)n)
		rv = 0;
	close(fd);
	free(z);
	return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpy_manifest m = { 0 };
	struct kpy_err e = KPY_ERR_INIT;
	int rv;

	if (work[0] == '\0') {
		setup();
		atexit(cleanup);
	}
	if (write_input(data, size) < 0)
		die("short write of the input file");

	rv = kpy_archive_manifest(in, &m, &e);
	if (rv < 0 && (e.code == KPY_OK || e.msg[0] == '\0'))
		die("kpy_archive_manifest failed without a message");
	if (rv == 0 && (m.kind == NULL || m.prefix == NULL))
		die("kpy_archive_manifest succeeded without kind or prefix");
	kpy_manifest_free(&m);

	kpy_err_clear(&e);
	memset(&m, 0, sizeof(m));
	rv = kpy_archive_restore(in, dest, &(struct kpy_restore_opts){ .prompt = size % 2 ? "fuzzed" : NULL, .threads = 1 + (int)(size % 3) }, &m, &e);
	if (rv < 0 && (e.code == KPY_OK || e.msg[0] == '\0'))
		die("kpy_archive_restore failed without a message");
	if (memchr(e.msg, '\0', sizeof(e.msg)) == NULL)
		die("error message not terminated");
	check_outside(rv == 0);
	if (rv == 0) {
		struct kpy_err re = KPY_ERR_INIT;
		kpy_manifest_free(&m);
		if (kpy_rmtree(dest, &re) < 0)
			die("cannot remove the restored env");
	}
	return 0;
}
