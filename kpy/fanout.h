/* fanout.h: the broadcast (fan-out) copy of an archive: the archive crosses the shared
 * filesystem once per job, is sent to every node's local storage with Slurm's sbcast,
 * and each node restores from its own copy after checking its size and checksum
 * against the original. The token that describes the copy travels in the job's
 * environment (KPY_FANOUT_VENV, KPY_FANOUT_UV). */
#ifndef KPY_FANOUT_H
#define KPY_FANOUT_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* <tmpdir>/kpy-bcast: root's, mode 1733 (everyone may add a file, nobody but root may
 * list it, only a file's owner may remove or rename it) */
#define KPY_FANOUT_DIR "kpy-bcast"

/* A 64-bit checksum (XXH64, seed 0), streamed. */
struct kpy_sum {
	uint64_t v[4];
	unsigned char buf[32];
	size_t n;                  /* bytes in buf */
	unsigned long long total;  /* bytes seen */
};
void kpy_sum_init(struct kpy_sum *s);
void kpy_sum_update(struct kpy_sum *s, const void *p, size_t len);
uint64_t kpy_sum_final(const struct kpy_sum *s);

/* What a node needs to find and check its copy. */
struct kpy_fanout {
	uint32_t jobid;
	unsigned long long size;  /* of the original */
	uint64_t sum;             /* kpy_sum of the original */
	char id[17];              /* 16 random hex digits: the copy's name is not guessable */
	char name[256];           /* the env or uv cache name */
	int uv;                   /* 1: a uv cache; 0: an env */
};

/* The variable that carries the token for KIND (KPY_KIND_VENV or KPY_KIND_UV). */
const char *kpy_fanout_var(const char *kind);
/* "<jobid>:<size>:<sum>:<id>:<name>" into BUF; -1 if it does not fit. */
int kpy_fanout_format(const struct kpy_fanout *f, char *buf, size_t size);
/* Parse a token; -1 if it is malformed. */
int kpy_fanout_parse(const char *s, struct kpy_fanout *f);
/* A fresh random id in F->id. */
int kpy_fanout_new_id(struct kpy_fanout *f, struct kpy_err *e);
/* <tmpdir>/kpy-bcast/<jobid>.<uid>.<id>.<v|u>.<size>.<sum>.<name>: the copy's name says
 * what a node must check it against, so a node finds it without being told (srun
 * cannot add to the environment of the step it launches); malloc'd, NULL when out
 * of memory. */
char *kpy_fanout_path(const char *tmpdir, const struct kpy_fanout *f, uid_t uid);

/* As root (nobody else may list the base): the newest copy of job JOBID of UID for
 * NAME (UV: a uv cache) on this node, a regular file of UID, into F. 1 when there is
 * one, 0 when not. */
int kpy_fanout_find(const char *tmpdir, uint32_t jobid, uid_t uid, int uv, const char *name,
		    struct kpy_fanout *f);

/* Copy SRC to the open file DST, counting its size and checksum into F. SRC is opened
 * once. */
int kpy_fanout_copy(const char *src, int dst, struct kpy_fanout *f, struct kpy_err *e);
/* The size and checksum of the open file FD, read from its start. */
int kpy_fanout_sum_fd(int fd, unsigned long long *size, uint64_t *sum, struct kpy_err *e);

/* As root: make <tmpdir>/kpy-bcast (root's, 1733) or accept it when it is root's
 * directory (its mode set right). Someone else's entry there (a directory, file or
 * symlink) is moved aside to kpy-bcast.squatted.<random>, never followed or deleted:
 * 1 then, else 0; -1 on error. */
int kpy_fanout_base_make(const char *tmpdir, struct kpy_err *e);

/* The copy F describes on this node, checked: the base is root's and sticky, the copy
 * a regular file of UID with one link, of F's size and checksum. 0 with *PATH (malloc'd);
 * -1 with E saying why not (KPY_ENOENT when there is no copy). */
int kpy_fanout_check(const char *tmpdir, const struct kpy_fanout *f, uid_t uid, char **path,
		     struct kpy_err *e);

/* Run `sbcast --jobid=JOBID --force SRC DST` (found in ENVP's PATH; ENVP NULL: this
 * process's environment) with a deadline of TIMEOUT seconds. 0 when it exits 0; else -1
 * with E saying what happened, with the first line sbcast wrote to stderr. */
int kpy_fanout_send(char *const *envp, uint32_t jobid, const char *src, const char *dst,
		    unsigned timeout, struct kpy_err *e);

/* As root, at the job's end: remove the copies of job JOBID of UID from
 * <tmpdir>/kpy-bcast (regular files of UID named <jobid>.<uid>.*). The number
 * removed, or -1. */
int kpy_fanout_remove(const char *tmpdir, uint32_t jobid, uid_t uid, struct kpy_err *e);

#endif
