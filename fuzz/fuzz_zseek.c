/* fuzz_zseek.c: libFuzzer target for the seekable format's reader: kpy_zs_index_read on
 * hostile bytes as a file, then kpy_zs_dec_frame on every frame of a table it accepts. */
#define _GNU_SOURCE
#include "autoconfig.h"
#include "zseek.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

/* Input that has no seek table is read as zstd frames laid end to end, and gets a
 * table made from their headers appended; so the fuzzer also reaches the frame decoder
 * with tables that agree with the file, past the table's own checks. */
static int fd = -1;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_zseek: INVARIANT BROKEN: %s\n", what);
	abort();
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void load(const void *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		die("cannot write the input file");
}

/* The frames of DATA with a seek table after them, in *OUT (malloc'd); 0 if DATA is
 * not a row of frames with known sizes. */
static size_t with_table(const uint8_t *data, size_t size, int checksums, unsigned char **out)
{
	size_t esz = checksums ? 12 : 8, n = 0, at = 0, cap = size / 8 + 1;
	unsigned char *t = malloc(size + 17 + cap * esz), *p;

	if (t == NULL)
		die("out of memory");
	memcpy(t, data, size);
	p = t + size + 8;
	while (at < size && n < cap) {
		size_t c = ZSTD_findFrameCompressedSize(data + at, size - at);
		unsigned long long d = ZSTD_getFrameContentSize(data + at, size - at);
		const uint8_t *end;
		if (ZSTD_isError(c) || c < 8) {
			free(t);
			return 0;
		}
		if (d > UINT32_MAX)
			d = 0; /* no size in the header: say 0 */
		end = data + at + c - 4; /* the content checksum, if the frame has one */
		put32(p, (uint32_t)c);
		put32(p + 4, (uint32_t)d);
		if (checksums)
			put32(p + 8, (uint32_t)end[0] | (uint32_t)end[1] << 8 | (uint32_t)end[2] << 16 |
					     (uint32_t)end[3] << 24);
		p += esz;
		at += c;
		n++;
	}
	if (at != size) {
		free(t);
		return 0;
	}
	put32(t + size, 0x184D2A5Eu);
	put32(t + size + 4, (uint32_t)(n * esz + 9));
	put32(p, (uint32_t)n);
	p[4] = checksums ? 0x80 : 0;
	put32(p + 5, 0x8F92EAB1u);
	*out = t;
	return (size_t)(p + 9 - t);
}

/* Read the index of the loaded file and decode each frame; check what is promised. */
static void run(size_t size)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	struct kpy_zs_dec *d;
	unsigned char *buf;
	uint64_t coff = 0, doff = 0;
	int r = kpy_zs_index_read(fd, "in.zst", &ix, &e);

	if (r == KPY_ZS_NOINDEX) {
		if (e.code != KPY_OK)
			die("no index, yet an error set");
		return;
	}
	if (r < 0) {
		if (e.code != KPY_EDAMAGED && e.code != KPY_EFAIL)
			die("index refused with an unexpected code");
		if (e.msg[0] == '\0' || memchr(e.msg, '\0', sizeof(e.msg)) == NULL)
			die("index refused without a message");
		if (ix.frames != NULL || ix.n != 0)
			die("index refused but left frames");
		return;
	}
	if (r != 0)
		die("index read returned something else");
	for (size_t i = 0; i < ix.n; i++) {
		const struct kpy_zs_frame *f = &ix.frames[i];
		if (f->coff != coff || f->doff != doff || f->dsize > KPY_ZS_FRAME_LIMIT || f->csize == 0)
			die("accepted frames do not follow each other");
		coff += f->csize;
		doff += f->dsize;
	}
	if (coff != ix.table_off || doff != ix.dsize || ix.table_off >= size)
		die("accepted frames do not cover the file up to the table");
	if ((d = kpy_zs_dec_new()) == NULL || (buf = malloc(ix.dmax + 1)) == NULL)
		die("out of memory");
	for (size_t i = 0; i < ix.n; i++) {
		kpy_err_clear(&e);
		if (kpy_zs_dec_frame(d, fd, "in.zst", &ix, i, buf, &e) < 0 &&
		    (e.code != KPY_EDAMAGED || e.msg[0] == '\0'))
			die("a frame refused without KPY_EDAMAGED and a message");
	}
	free(buf);
	kpy_zs_dec_free(d);
	kpy_zs_index_free(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *t = NULL;
	size_t n;

	if (fd < 0 && (fd = memfd_create("fuzz_zseek", MFD_CLOEXEC)) < 0)
		die("memfd_create");
	load(data, size);
	run(size);
	if (size >= 9 && memcmp(data + size - 4, "\xb1\xea\x92\x8f", 4) == 0)
		return 0;
	if ((n = with_table(data, size, size % 2 == 0, &t)) > 0) {
		load(t, n);
		run(n);
	}
	free(t);
	return 0;
}
