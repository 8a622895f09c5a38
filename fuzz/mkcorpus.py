#!/usr/bin/env python3
"""mkcorpus.py: make the fuzz seed corpora in fuzz/corpus/ from a real archive that the
built kpy saves of a small venv, and from hostile archives made with tarfile.

    python3 fuzz/mkcorpus.py KPY_BINARY [OUTDIR]    (OUTDIR defaults to fuzz/corpus)

Seeds for fuzz_archive are mostly raw tar (the target zstd-compresses input that does
not start with a zstd frame); a few are .tar.zst as is. Hostile ones aim at the
target's sentinel (WORK/sentinel/ beside WORK/run/env) through relative links, '..',
absolute names and the old prefix /old/env. Needs the zstd command."""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

PREFIX = "/old/env"
PY = "/usr/bin/python3"


def manifest(files, prefix=PREFIX, kind="venv", extra=""):
    return ("# kpy archive manifest\n[kpy]\nformat = 1\nkind = %s\nname = seed\n"
            "prefix = %s\nprompt = seed\npython_version = 3.11.2\nbase_python = %s\n"
            "saved = 1700000000\nkpy_version = 0.1.0\nfiles = %d\nbytes = 10\n%s"
            % (kind, prefix, PY, files, extra)).encode()


def member(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, size=None):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = 1700000000
    ti.linkname = link
    ti.size = len(data) if size is None else size
    return ti, data


def make_tar(entries, fmt=tarfile.PAX_FORMAT, man=None, reloc=b""):
    """entries: list of (TarInfo, data); the manifest first, .kpy/relocate last."""
    buf = io.BytesIO()
    counted = [e for e in entries if e[0].name not in (".kpy/packages",)]
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        m = man if man is not None else manifest(len(counted))
        ti, _ = member(".kpy/manifest.ini", data=m)
        t.addfile(ti, io.BytesIO(m))
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else None)
        if reloc is not None:
            ti, _ = member(".kpy/relocate", data=reloc)
            t.addfile(ti, io.BytesIO(reloc))
    return buf.getvalue()


def venv_base():
    """A minimal venv layout: bin/python -> base, a script and pyvenv.cfg."""
    script = ("#!%s/bin/python3\nimport sys\nprint('hi')\n" % PREFIX).encode()
    act = ('VIRTUAL_ENV="%s"\nPS1="(seed) ${PS1:-}"\n' % PREFIX).encode()
    return [
        member("bin", tarfile.DIRTYPE, mode=0o755),
        member("bin/python3", tarfile.SYMTYPE, link=PY, mode=0o777),
        member("bin/python", tarfile.SYMTYPE, link="python3", mode=0o777),
        member("bin/hello", data=script, mode=0o755),
        member("bin/activate", data=act),
        member("pyvenv.cfg", data=b"home = /usr/bin\nversion = 3.11.2\n"),
    ]


def hostile():
    """(name, tar bytes) pairs, each otherwise valid so it reaches the danger."""
    b = venv_base()
    out = []
    add = lambda n, extra, reloc=b"bin/hello\nbin/activate\n", **kw: out.append(
        (n, make_tar(b + extra, reloc=reloc, **kw)))
    add("base", [])
    add("abs-name", [member("/tmp/kpy-fuzz-abs", data=b"x")])
    add("dotdot", [member("../../sentinel/evil", data=b"x")])
    add("dotdot-mid", [member("lib/../../../sentinel/evil", data=b"x")])
    add("sym-rel-dir", [member("esc", tarfile.SYMTYPE, link="../../sentinel"),
                        member("esc/evil", data=b"x")])
    add("sym-rel-file", [member("lib", tarfile.DIRTYPE, mode=0o755),
                         member("lib/c", tarfile.SYMTYPE, link="../../../sentinel/canary"),
                         member("lib/c", data=b"overwrite")])
    add("sym-prefix", [member("esc", tarfile.SYMTYPE, link=PREFIX + "/../../sentinel"),
                       member("esc/evil", data=b"x")])
    add("sym-abs-dir", [member("bin2", tarfile.SYMTYPE, link="/tmp"),
                        member("bin2/kpy-fuzz-evil", data=b"x")])
    add("sym-reloc", [member("bin/canary", tarfile.SYMTYPE, link="../../../sentinel/canary")],
        reloc=b"bin/hello\nbin/canary\n")
    add("sym-reloc-dir", [member("lib", tarfile.SYMTYPE, link="../../sentinel/dir"),
                          ], reloc=b"lib/x\nlib/../x\n")
    add("reloc-dotdot", [], reloc=b"../../sentinel/canary\n")
    add("reloc-abs", [], reloc=b"/etc/passwd\n")
    add("hard-out", [member("h", tarfile.LNKTYPE, link="../../sentinel/canary")])
    add("hard-abs", [member("h", tarfile.LNKTYPE, link="/etc/passwd")])
    add("hard-via-sym", [member("l", tarfile.SYMTYPE, link="../../sentinel/canary"),
                         member("h", tarfile.LNKTYPE, link="l"),
                         member("h", data=b"overwrite")])
    add("hard-then-write", [member("h", tarfile.LNKTYPE, link="bin/hello"),
                            member("h", data=b"x")])
    add("dev-chr", [member("null", tarfile.CHRTYPE)])
    add("dev-blk", [member("sda", tarfile.BLKTYPE)])
    add("fifo", [member("fifo", tarfile.FIFOTYPE)])
    add("dir-then-file", [member("d", tarfile.DIRTYPE, mode=0o755), member("d", data=b"x")])
    add("setuid", [member("bin/su", data=b"x", mode=0o4755)])
    add("longname-pax", [member("lib/" + "d" * 200 + "/f", data=b"x")])
    add("longname-gnu", [member("lib/" + "e" * 150 + "/../../../sentinel/evil", data=b"x")],
        fmt=tarfile.GNU_FORMAT)
    add("longlink-gnu", [member("esc", tarfile.SYMTYPE, link="../" * 60 + "tmp")],
        fmt=tarfile.GNU_FORMAT)
    add("ustar", [member("lib/x.pth", data=(PREFIX + "/lib\n").encode())],
        reloc=b"lib/x.pth\n", fmt=tarfile.USTAR_FORMAT)
    add("wrong-count", [], man=manifest(99))
    add("no-reloc", [], reloc=None)
    add("uv-cache", [member("cache/x", data=b"x")], man=manifest(7, kind="uv-cache"))
    add("relprefix", [], man=manifest(6, prefix="old/env"))
    add("rootprefix", [member("x", tarfile.SYMTYPE, link="/x")], man=manifest(7, prefix="/"))
    add("no-python", [], man=manifest(6).replace(PY.encode(), b"/nonexistent/python3"))
    # a pax header that renames the entry after the fact
    t = make_tar(b)
    out.append(("manifest-second", make_tar([member(".kpy/manifest.ini", data=manifest(6))] + b)))
    out.append(("truncated-tar", t[: len(t) // 2]))
    # a manifest entry whose header claims a huge size
    ti, _ = member(".kpy/manifest.ini", size=0o77777777777)
    hdr = ti.tobuf(tarfile.USTAR_FORMAT)
    out.append(("huge-size", hdr + manifest(6) + b"\0" * 1024))
    return out


def manifests():
    base = manifest(6).decode()
    return [
        ("real", base),
        ("no-newline", base.rstrip("\n")),
        ("format2", base.replace("format = 1", "format = 2")),
        ("format-huge", base.replace("format = 1", "format = 99999999999999999999")),
        ("format-neg", base.replace("format = 1", "format = -1")),
        ("dup-keys", base + "prefix = /other\nkind = uv-cache\nkind = venv\n"),
        ("odd-keys", "[x]\n=\n = \n==\nprefix\nfoo = bar\n;c\n#c\n\tformat\t=\t1\r\nkind=venv\nprefix=/\n"),
        ("crlf", base.replace("\n", "\r\n")),
        ("nul", base.replace("name = seed", "name = se\0ed")),
        ("relative", base.replace("prefix = /old/env", "prefix = old/env")),
        ("no-kind", "format = 1\nprefix = /a\n"),
        ("empty-prefix", "format = 1\nkind = venv\nprefix =\n"),
        ("long-value", "format = 1\nkind = venv\nprefix = /" + "a" * 5000 + "\n"),
        ("files-end", "format = 1\nkind = venv\nprefix = /a\nfiles = 12345678901234"),
        ("empty", ""),
    ]


def zst(data):
    return subprocess.run(["zstd", "-q", "-c", "--check", "-3"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def real_archive(kpy, tmp):
    env = os.path.join(tmp, "old", "env")
    subprocess.run([PY, "-m", "venv", "--without-pip", env], check=True)
    with open(os.path.join(env, "bin", "hello"), "w") as f:
        f.write("#!%s/bin/python3\nprint('hello')\n" % env)
    os.chmod(os.path.join(env, "bin", "hello"), 0o755)
    site = subprocess.run([os.path.join(env, "bin", "python3"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "seed.pth"), "w") as f:
        f.write(env + "/lib/extra\n")
    e = dict(os.environ, HOME=tmp, XDG_DATA_HOME=os.path.join(tmp, "data"),
             XDG_CONFIG_HOME=os.path.join(tmp, "cfg"), VIRTUAL_ENV=env,
             KPY_SITE_CONFIG=os.path.join(tmp, "none.conf"), TMPDIR=tmp)
    subprocess.run([kpy, "save", "seed"], env=e, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(tmp, "data", "kpy", "venv_archives", "seed.tar.zst"), "rb") as f:
        return f.read()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    kpy = os.path.abspath(sys.argv[1])
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "corpus")
    tmp = tempfile.mkdtemp(prefix="kpy-corpus.")
    try:
        real = real_archive(kpy, tmp)
    finally:
        shutil.rmtree(tmp)
    raw = subprocess.run(["zstd", "-q", "-d", "-c"], input=real, stdout=subprocess.PIPE,
                         check=True).stdout
    a = os.path.join(out, "fuzz_archive")
    shutil.rmtree(a, ignore_errors=True)
    write(a, "real.tar.zst", real)
    write(a, "real.tar", raw)
    write(a, "real-truncated.tar.zst", real[: len(real) // 2])
    flip = bytearray(real)
    flip[len(flip) // 2] ^= 0x10
    write(a, "real-bitflip.tar.zst", bytes(flip))
    write(a, "wrong-magic.tar.zst", b"\x28\xb5\x2f\xfe" + real[4:])
    skip = b"\x50\x2a\x4d\x18" + (8).to_bytes(4, "little") + b"kpyindex"
    write(a, "skippable-first.tar.zst", skip + real)
    write(a, "skippable-last.tar.zst", real + skip)
    write(a, "skippable-huge.tar.zst", b"\x5f\x2a\x4d\x18\xff\xff\xff\xff" + real)
    write(a, "two-frames.tar.zst", zst(raw[:512]) + zst(raw[512:]))
    write(a, "empty", b"")
    for name, data in hostile():
        write(a, name + ".tar", data)
    for name in ("sym-reloc", "sym-rel-dir", "hard-out"):
        write(a, name + ".tar.zst", zst(dict(hostile())[name]))
    m = os.path.join(out, "fuzz_manifest")
    shutil.rmtree(m, ignore_errors=True)
    real_man = tarfile.open(fileobj=io.BytesIO(raw)).extractfile(".kpy/manifest.ini").read()
    write(m, "from-real", real_man)
    for name, text in manifests():
        write(m, name, text.encode())
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print("corpus: %d bytes in %s" % (total, out))


if __name__ == "__main__":
    main()
