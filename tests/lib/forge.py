#!/usr/bin/env python3
"""forge.py: a hostile copy of a kpy archive's tar, for the tests.

usage: forge.py SRC.tar DST.tar KIND OUTSIDE
Copies SRC to DST, adding before .kpy/relocate the entries of KIND that aim at the
directory OUTSIDE (abs, dotdot, symfile, hardout, hardsym), or a device, a duplicate,
a zip bomb, or manifest file counts that are huge or negative; the manifest's count
is kept right so that only the hostile part is wrong. KIND none adds nothing.
"""
import io, re, sys, tarfile
src, dst, kind, out = sys.argv[1:5]
def reg(name, data=b"pwned\n"):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; return ti, data
def link(name, target, typ):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.linkname = target; return ti, None
def dev(name):
    ti = tarfile.TarInfo(name); ti.type = tarfile.CHRTYPE; ti.devmajor = 1; ti.devminor = 3
    return ti, None
deep = "../" * 40 + out.lstrip("/")
extra, counts = [], None
if kind == "abs": extra = [reg(out + "/abs")]
elif kind == "dotdot": extra = [reg("lib/" + deep + "/dotdot")]
elif kind == "symfile": extra = [link("lib/esc", out, tarfile.SYMTYPE), reg("lib/esc/victim")]
elif kind == "hardout": extra = [link("bin/hl", out + "/victim", tarfile.LNKTYPE)]
elif kind == "hardsym": extra = [link("lib/s", out + "/victim", tarfile.SYMTYPE),
                                 link("lib/h", "lib/s", tarfile.LNKTYPE)]
elif kind == "device": extra = [dev("lib/null")]
elif kind == "dup": extra = [reg("lib/dup", b"one\n"), reg("lib/dup", b"two\n")]
elif kind == "huge": counts = "99999999999999999999999"
elif kind == "negative": counts = "-3"
elif kind == "big": counts = "9223372036854775807"
elif kind == "bomb":
    extra = [(lambda ti: (ti, None))(tarfile.TarInfo("lib/zeros"))]
with tarfile.open(src) as t, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as o:
    for m in t.getmembers():
        name = m.name[2:] if m.name.startswith("./") else m.name
        f = t.extractfile(m) if m.isreg() else None
        if name == ".kpy/relocate":
            for ti, data in extra:
                if kind == "bomb":
                    ti.size = 256 << 20; ti.mode = 0o644
                    class Zeros(io.RawIOBase):
                        left = ti.size
                        def readinto(self, b):
                            n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
                        def readable(self): return True
                    o.addfile(ti, io.BufferedReader(Zeros(), 1 << 20)); continue
                o.addfile(ti, io.BytesIO(data) if data is not None else None)
        if name == ".kpy/manifest.ini":
            text = f.read().decode()
            n = len(extra)
            text = re.sub(r"(?m)^(files\s*=\s*)(\d+)",
                          lambda g: g.group(1) + (counts or str(int(g.group(2)) + n)), text)
            data = text.encode(); m.size = len(data); f = io.BytesIO(data)
        o.addfile(m, f)
