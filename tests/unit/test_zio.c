/* test_zio.c: kpy/zio.c: tar through zstd with checksums; damage is noticed. */
#include "helpers.h"
#include <archive.h>
#include <archive_entry.h>
#include "zio.h"

static void write_tar(const char *path, size_t datalen)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	char *data = malloc(datalen);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	for (size_t i = 0; i < datalen; i++)
		data[i] = (char)(i * 7 + i / 251);
	archive_write_set_format_pax_restricted(a);
	cr_assert_eq(kpy_zw_open(a, fd, 3, 2, NULL, &e), 0, "%s", e.msg);
	archive_entry_set_pathname(ae, "data.bin");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, (la_int64_t)datalen);
	cr_assert_eq(archive_write_header(a, ae), ARCHIVE_OK);
	cr_assert_eq(archive_write_data(a, data, datalen), (la_ssize_t)datalen);
	cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ae);
	close(fd);
	free(data);
}

/* 0 if PATH reads back whole, -1 if reading failed; *damaged says why. */
static int read_tar(const char *path, size_t datalen, int *damaged)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zr zr;
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char buf[65536];
	size_t got = 0;
	la_ssize_t n;
	int fd = open(path, O_RDONLY), rv = -1;

	archive_read_support_format_tar(a);
	if (kpy_zr_open(a, &zr, fd, &e) < 0)
		goto out;
	if (archive_read_next_header(a, &ae) != ARCHIVE_OK)
		goto out;
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		for (la_ssize_t i = 0; i < n; i++)
			if (buf[i] != (char)((got + (size_t)i) * 7 + (got + (size_t)i) / 251))
				goto out;
		got += (size_t)n;
	}
	if (n < 0 || got != datalen || archive_read_next_header(a, &ae) != ARCHIVE_EOF)
		goto out;
	if (kpy_zr_drain(a, &zr) < 0)
		goto out;
	rv = 0;
out:
	*damaged = zr.damaged;
	archive_read_free(a);
	kpy_zr_close(&zr);
	close(fd);
	return rv;
}

Test(zio, round_trip_is_plain_zstd_with_checksum)
{
	char *d = mk_tmpdir(), p[PATH_MAX], cmd[PATH_MAX * 2];
	int damaged;

	PATHF(p, "%s/t.tar.zst", d);
	write_tar(p, 3u << 20);
	cr_assert_eq(read_tar(p, 3u << 20, &damaged), 0);
	PATHF(cmd, "zstd -lv '%s' 2>&1 | grep -q 'Check: XXH64' && tar --zstd -tf '%s' | grep -qx data.bin", p, p);
	cr_assert_eq(system(cmd), 0, "zstd -lv shows no checksum or tar cannot read it");
	rm_tmpdir(d);
}

Test(zio, truncation_is_damage)
{
	char *d = mk_tmpdir(), p[PATH_MAX];
	struct stat st;
	int damaged;

	PATHF(p, "%s/t.tar.zst", d);
	write_tar(p, 1u << 20);
	stat(p, &st);
	cr_assert_eq(truncate(p, st.st_size - 3), 0);
	cr_assert_eq(read_tar(p, 1u << 20, &damaged), -1);
	cr_assert(damaged);
	cr_assert_eq(truncate(p, 0), 0);
	cr_assert_eq(read_tar(p, 1u << 20, &damaged), -1);
	rm_tmpdir(d);
}

Test(zio, a_flipped_byte_is_damage)
{
	char *d = mk_tmpdir(), p[PATH_MAX];
	struct stat st;
	int damaged, fd;
	unsigned char c;

	PATHF(p, "%s/t.tar.zst", d);
	write_tar(p, 1u << 20);
	stat(p, &st);
	fd = open(p, O_RDWR);
	cr_assert_eq(pread(fd, &c, 1, st.st_size / 2), 1);
	c ^= 0x55;
	cr_assert_eq(pwrite(fd, &c, 1, st.st_size / 2), 1);
	close(fd);
	cr_assert_eq(read_tar(p, 1u << 20, &damaged), -1);
	cr_assert(damaged);
	rm_tmpdir(d);
}
