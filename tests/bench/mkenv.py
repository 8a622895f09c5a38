#!/usr/bin/env python3
"""mkenv.py: a deterministic, ML-shaped venv for the benchmark (tests/bench/README.md).

    tests/bench/mkenv.py [--size small|medium|large] [--seed N] [--python PY] DIR
    tests/bench/mkenv.py --measure DIR     # only print the zstd -3 ratios of DIR

DIR must not exist. It becomes a real venv (`PY -m venv --without-pip`, default
/usr/bin/python3) whose lib/pythonX.Y/site-packages holds the generated tree. The
shape is that of a real PyTorch-style env (the `large` size; the others scale the
counts and the big libraries down, see SIZES). Contents are never zeros or random
bytes: text comes from a vocabulary-based generator of Python, C++ and prose lines,
binaries from structured sections (instruction-like snippets, address tables, symbol
strings), so that `zstd -3` gives about 4x on text and 2.8x on binaries; the measured
ratios are printed at the end. The same size, seed and Python give the same bytes.
"""
import argparse
import base64
import importlib.util
import itertools
import math
import os
import random
import struct
import subprocess
import sys
import time

MB = 1 << 20
KB = 1 << 10

# Counts of the `large` size are those of a real ML env (torch + friends): 11.8k .py,
# as many .pyc, 3.9k headers, 2.9k other text files, 476 extension modules of
# 100 KB-5 MB, 9 libraries of 5-50 MB and 6 of 100-460 MB (61 % of the bytes), ~2.9k
# directories. `scale` multiplies every count; `giants` lists the big libraries (MiB).
SIZES = {
    "small": {"scale": 0.08, "mid": 1, "giants": [117]},
    "medium": {"scale": 0.35, "mid": 3, "giants": [200, 311]},
    "large": {"scale": 1.0, "mid": 9, "giants": [100, 150, 200, 250, 300, 460]},
}

PARTS = ("get set tensor shape dtype device grad module layer weight bias input output "
         "size dim index value key cache config state buffer param batch stream kernel op "
         "node graph func call arg kw name path file data load save init reset update apply "
         "forward backward norm mean std scale mask attn head embed token seq len max min sum "
         "count step iter item list dict map type spec meta info log warn error check valid "
         "is has to from with num total local global rank world group proc thread lock queue "
         "event time opt lr loss acc eval train mode flag hook wrap impl base core util helper "
         "fused quant sparse dense conv pool linear relu gelu softmax dropout matmul add mul "
         "sub div view reshape permute stride offset storage alloc free copy clone detach "
         "contiguous cuda cpu half float int long bool byte complex").split()
WORDS = ("the a of to and in is for that this with be on as by are not or it an if we "
         "return returns value values given tensor input output default must should can will "
         "when which used use using each all one two new see note example shape type only "
         "also than more other such may number first last function method class object module "
         "argument arguments parameter parameters optional none true false list dict string "
         "raised error case where same between into over after before data file path").split()


def zipf_weights(n, s=1.05):
    return [1.0 / (r + 1) ** s for r in range(n)]


def zipf_cum(n, s=1.05):
    """cumulative weights, so random.choices does not sum them on every call"""
    return list(itertools.accumulate(zipf_weights(n, s)))


class Vocab:
    def __init__(self, rng):
        names = set()
        while len(names) < 4000:
            k = rng.choice((1, 1, 2, 2, 2, 3))
            names.add("_".join(rng.choice(PARTS) for _ in range(k)))
        self.names = sorted(names)
        rng.shuffle(self.names)
        self.nw = zipf_cum(len(self.names))
        self.classes = ["".join(p.capitalize() for p in n.split("_")) for n in self.names[:800]]
        self.cw = zipf_cum(len(self.classes))
        self.ww = zipf_cum(len(WORDS), 0.9)
        self.rng = rng

    def n(self, k=1):
        return self.rng.choices(self.names, cum_weights=self.nw, k=k)

    def c(self):
        return self.rng.choices(self.classes, cum_weights=self.cw)[0]

    def words(self, lo, hi):
        return " ".join(self.rng.choices(WORDS, cum_weights=self.ww, k=self.rng.randint(lo, hi)))


def py_lines(v, rng, count):
    """Python-like source lines (each ends with a newline)."""
    out = []
    ind = ("", "    ", "        ", "            ")
    iw = (2, 5, 4, 2)
    for _ in range(count):
        i = rng.choices(ind, iw)[0]
        a, b, c = v.n(3)
        t = rng.randrange(16)
        if t == 0:
            s = f"{i}def {a}(self, {b}, {c}=None):"
        elif t == 1:
            s = f'{i}    """{v.words(4, 12).capitalize()}."""'
        elif t == 2:
            s = f"{i}{a} = {b}({c}, {rng.randrange(100)})"
        elif t == 3:
            s = f"{i}if {a} is None:"
        elif t == 4:
            s = f"{i}return {a}.{b}({c})"
        elif t == 5:
            s = f'{i}raise ValueError(f"{v.words(3, 8)} {{{a}}}")'
        elif t == 6:
            s = f"{i}# {v.words(5, 14)}"
        elif t == 7:
            s = f"from .{a} import {b}, {c}"
        elif t == 8:
            s = f"{i}for {a} in range({b}.{c}):"
        elif t == 9:
            s = f"{i}self.{a} = {b}"
        elif t == 10:
            s = f"class {v.c()}({v.c()}):"
        elif t == 11:
            s = f"{i}{a}: {rng.choice(('int', 'str', 'Optional[Tensor]', 'bool', 'float'))} = {b}"
        elif t == 12:
            s = f"{i}elif isinstance({a}, ({v.c()}, {v.c()})):"
        elif t == 13:
            s = f"{i}{a} = self.{b}[{c}] + {rng.random():.4f}"
        elif t == 14:
            s = ""
        else:
            s = f"{i}assert {a}.{b} == {c}, \"{v.words(2, 6)}\""
        out.append(s + "\n")
    return out


def c_lines(v, rng, count):
    """C/C++ header-like lines."""
    types = ("int64_t", "int", "float", "double", "bool", "void", "size_t", "at::Tensor",
             "const Tensor&", "c10::optional<int64_t>", "IntArrayRef", "Scalar")
    out = []
    for _ in range(count):
        a, b, c = v.n(3)
        t = rng.randrange(10)
        if t == 0:
            s = f"#define {a.upper()}_{b.upper()} {rng.randrange(1 << 16)}"
        elif t == 1:
            s = f"  {rng.choice(types)} {a}({rng.choice(types)} {b}, {rng.choice(types)} {c});"
        elif t == 2:
            s = f"struct {v.c()} {{"
        elif t == 3:
            s = "};"
        elif t == 4:
            s = f"/* {v.words(4, 14)} */"
        elif t == 5:
            s = f"#include <{a}/{b}.h>"
        elif t == 6:
            s = f"template <typename {v.c()}, int {a.upper()}>"
        elif t == 7:
            s = f"  TORCH_API {rng.choice(types)} {a}_{b}({rng.choice(types)} self);"
        elif t == 8:
            s = f"// {v.words(4, 12)}"
        else:
            s = f"  {rng.choice(types)} {a}_ = {rng.randrange(1000)};"
        out.append(s + "\n")
    return out


def doc_lines(v, rng, count):
    """README/METADATA/RECORD-like lines."""
    out = []
    for _ in range(count):
        t = rng.randrange(8)
        if t < 4:
            s = v.words(6, 16).capitalize() + "."
        elif t == 4:
            s = f"Requires-Dist: {v.n()[0].replace('_', '-')} (>={rng.randrange(1, 4)}.{rng.randrange(30)})"
        elif t == 5:
            h = base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()
            s = f"{v.n()[0]}/{v.n()[0]}.py,sha256={h},{rng.randrange(200, 60000)}"
        elif t == 6:
            s = f'  "{v.n()[0]}": {rng.randrange(10000)},'
        else:
            s = f"## {v.words(2, 5).title()}"
        out.append(s + "\n")
    return out


def text_file(rng, pool, size, avg):
    k = size // avg + 8
    while True:
        s = "".join(rng.choices(pool, k=k)).encode()
        if len(s) >= size:
            return s[:size - 1] + b"\n"
        k *= 2


def skew_table(rng, common, weights):
    """256-entry translate table giving bytes from `common` with `weights` (a
    uniform random byte becomes a byte with that skewed distribution)."""
    tot = sum(weights)
    out = bytearray()
    for b, w in zip(common, weights):
        out += bytes([b]) * round(256 * w / tot)
    while len(out) < 256:
        out.append(rng.randrange(256))
    return bytes(out[:256])


class BinGen:
    """A pool of .so-like bytes, cut into file chunks at random offsets and passed
    through one of 256 byte permutations, so chunks do not repeat each other while
    keeping the pool's statistics (zstd's window never sees the same bytes twice)."""

    POOL = 32 * MB

    def __init__(self, rng, v):
        self.rng = rng
        opc = (0x48, 0x89, 0x8b, 0x0f, 0xe8, 0xff, 0x00, 0x24, 0x44, 0x85, 0xc0, 0x74,
               0x75, 0x41, 0x83, 0xc4, 0x5d, 0xc3, 0x31, 0xd2, 0x8d, 0x4c, 0x10, 0x01)
        self.code_tab = skew_table(rng, opc, zipf_weights(len(opc), 0.6) + [0.0])
        snippets = [rng.randbytes(rng.randint(2, 14)).translate(self.code_tab) for _ in range(6000)]
        sw = zipf_cum(len(snippets), 1.0)
        syms = [b"_ZN" + b"".join(b"%d%s" % (len(p), p.encode()) for p in v.n(rng.randint(2, 4))) + b"Ev\0"
                for _ in range(3000)]
        parts = []
        total = 0
        while total < self.POOL:
            kind = rng.random()
            n = rng.randint(16 * KB, 256 * KB)
            if kind < 0.70:      # .text: snippets with fresh displacements between them
                k = n // 11
                sn = rng.choices(snippets, cum_weights=sw, k=k)
                noise = rng.randbytes(k * 3)
                ln = rng.choices((0, 1, 2, 3), (5, 3, 2, 1), k=k)
                buf = bytearray()
                for j in range(k):
                    buf += sn[j]
                    buf += noise[3 * j:3 * j + ln[j]]
                s = bytes(buf)
            elif kind < 0.85:    # .rela/.symtab: 24-byte records, rising addresses
                addr = rng.randrange(1 << 20) << 4
                recs = []
                for _ in range(n // 24):
                    addr += rng.choice((8, 16, 16, 24, 32, 48, 64, 256))
                    recs.append(struct.pack("<QIIQ", addr, rng.choice((7, 8, 1, 6)),
                                            rng.randrange(4096), addr + rng.randrange(512)))
                s = b"".join(recs)
            else:                # .dynstr/.rodata: symbol names
                s = b"".join(rng.choices(syms, k=n // 30))
            parts.append(s)
            total += len(s)
        self.pool = b"".join(parts)
        self.perms = []
        for _ in range(256):
            p = list(range(256))
            rng.shuffle(p)
            self.perms.append(bytes(p))

    def chunk(self, n):
        off = self.rng.randrange(len(self.pool) - n)
        return self.pool[off:off + n].translate(self.rng.choice(self.perms))

    def write(self, path, size):
        with open(path, "wb") as f:
            f.write(b"\x7fELF\x02\x01\x01\0" + bytes(8))
            left = size - 16
            while left > 0:
                n = min(left, MB)
                f.write(self.chunk(n))
                left -= n


def pyc_body(rng, v, doc, size):
    """marshal-like code objects: bytecode made of common instruction runs (skewed
    opcodes, small args) with fresh args between them, name tuples and docstrings."""
    out = bytearray()
    while len(out) < size:
        k = rng.randint(4, 60)
        runs = rng.choices(PYC_SNIPPETS, cum_weights=PYC_SW, k=k)
        fresh = rng.randbytes(k).translate(PYC_ARGS)
        code = b"".join(r + fresh[j:j + 1] + b"\x00" for j, r in enumerate(runs))
        out += b"\xe3" + struct.pack("<IIII", rng.randrange(8), 0, rng.randrange(32), 3)
        out += b"s" + struct.pack("<I", len(code)) + code
        out += b")" + bytes([n := rng.randint(1, 8)])
        for name in v.n(n):
            out += b"\xda" + bytes([len(name)]) + name.encode()
        if rng.random() < 0.3:
            d = rng.choice(doc).encode()
            out += b"u" + struct.pack("<I", len(d)) + d
    return bytes(out[:size])


PYC_ARGS = b""
PYC_SNIPPETS = []
PYC_SW = []


def plan(rng, size):
    """The tree: a list of (relpath, kind, size) and the directories, parents first."""
    cfg = SIZES[size]
    f = cfg["scale"]
    n = lambda x: max(1, round(x * f))
    npkg, npydirs, nincdirs = n(150), n(1300), n(100)
    files = []
    dirs = []
    pkgs = sorted({"%s%d" % (rng.choice(PARTS), i) for i in range(npkg)})
    pydirs = []
    for p in pkgs:
        pydirs.append(p)
        dirs += [p, f"{p}/__pycache__", f"{p}-1.{rng.randrange(30)}.0.dist-info"]
    while len(pydirs) < npydirs:
        parent = rng.choice(pydirs)
        if parent.count("/") >= 5:
            continue
        d = f"{parent}/{rng.choice(PARTS)}{rng.randrange(100)}"
        if d in pydirs:
            continue
        pydirs.append(d)
        dirs += [d, f"{d}/__pycache__"]
    incdirs = []
    for i in range(nincdirs):
        base = rng.choice(pkgs) + "/include" if i < len(pkgs) // 3 + 1 else rng.choice(incdirs)
        d = base if base not in incdirs else f"{base}/{rng.choice(PARTS)}{i}"
        if d not in incdirs:
            incdirs.append(d)
            dirs.append(d)
    libdirs = [f"{p}/lib" for p in pkgs[:max(1, len(cfg["giants"]))]]
    dirs += libdirs

    def logu(lo, hi):
        return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    for i in range(n(11800)):
        d = rng.choice(pydirs)
        name = "__init__" if i < len(pydirs) else f"{rng.choice(PARTS)}_{i}"
        sz = logu(1 * KB, 20 * KB)
        files.append((f"{d}/{name}.py", "py", sz))
        files.append((f"{d}/__pycache__/{name}.cpython-3X.pyc", "pyc", int(sz * rng.uniform(0.6, 1.1))))
    for i in range(n(3900)):
        files.append((f"{rng.choice(incdirs)}/{rng.choice(PARTS)}_{i}.h", "h", logu(512, 60 * KB)))
    distinfo = [d for d in dirs if d.endswith(".dist-info")]
    for d in distinfo:
        for name in ("METADATA", "RECORD", "WHEEL", "top_level.txt", "INSTALLER", "LICENSE"):
            files.append((f"{d}/{name}", "doc", logu(200, 40 * KB)))
    for i in range(max(0, n(2900) - 6 * len(distinfo))):
        ext = rng.choice((".pyi", ".txt", ".json", ".cfg", ".md", ".typed"))
        files.append((f"{rng.choice(pydirs)}/{rng.choice(PARTS)}_{i}{ext}", "doc", logu(200, 40 * KB)))
    for i in range(n(476)):
        files.append((f"{rng.choice(pydirs)}/_{rng.choice(PARTS)}_{i}.cpython-3X-x86_64-linux-gnu.so",
                      "so", logu(100 * KB, 5 * MB)))
    for i in range(cfg["mid"]):
        files.append((f"{rng.choice(libdirs)}/lib{rng.choice(PARTS)}_{i}.so", "so", logu(5 * MB, 50 * MB)))
    for i, m in enumerate(cfg["giants"]):
        files.append((f"{libdirs[i % len(libdirs)]}/lib{rng.choice(PARTS)}_big{i}.so", "so", m * MB))
    return dirs, files


TEXT_KINDS = ("py", "h", "doc")


def measure(root, limit=256 * MB):
    """zstd -3 ratio of text and binary files, in the order of a tar of the tree,
    over at most `limit` bytes of each (taken evenly through the tree)."""
    groups = {"text": [], "binary": []}
    mrng = random.Random(0)
    for dp, dn, fn in os.walk(root):
        dn.sort()
        for name in sorted(fn):
            p = os.path.join(dp, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            g = "binary" if name.endswith((".so", ".pyc")) or ".so." in name else "text"
            groups[g].append((p, os.path.getsize(p)))
    res = {}
    for g, lst in groups.items():
        total = sum(s for _, s in lst)
        if not total:
            continue
        z = subprocess.Popen(["zstd", "-3", "-T0", "-q", "-c"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        import threading
        out = []
        t = threading.Thread(target=lambda: out.append(len(z.stdout.read())))
        t.start()
        fed = 0
        frac = min(1.0, limit / total)
        for p, s in lst:
            take = s if frac >= 1 else int(s * frac) if s > 4 * MB else (s if mrng.random() < frac else 0)
            if not take:
                continue
            with open(p, "rb") as f:
                while take > 0:
                    b = f.read(min(take, MB))
                    if not b:
                        break
                    z.stdin.write(b)
                    fed += len(b)
                    take -= len(b)
        z.stdin.close()
        t.join()
        z.wait()
        res[g] = (total, fed, fed / max(1, out[0]))
    return res


def print_measure(root):
    for g, (total, fed, r) in measure(root).items():
        print(f"mkenv: {g}: {total / MB:.0f} MiB, zstd -3 ratio {r:.2f} (over {fed / MB:.0f} MiB)")


def main():
    global PYC_OPS, PYC_ARGS, PYC_SW
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="medium", choices=sorted(SIZES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--measure", action="store_true", help="only measure DIR's ratios")
    ap.add_argument("--no-measure", action="store_true", help="skip measuring")
    ap.add_argument("dir")
    a = ap.parse_args()
    if a.measure:
        print_measure(a.dir)
        return 0
    if os.path.exists(a.dir):
        sys.exit(f"mkenv: {a.dir} exists")
    t0 = time.time()
    subprocess.run([a.python, "-m", "venv", "--without-pip", a.dir], check=True)
    ver = subprocess.run([a.python, "-c", "import sys; print('%d%d %d.%d' % (sys.version_info[:2] * 2))"],
                         check=True, capture_output=True, text=True).stdout.split()
    sp = os.path.join(a.dir, "lib", "python" + ver[1], "site-packages")
    os.makedirs(sp, exist_ok=True)
    rng = random.Random(a.seed * 1000003 + list(SIZES).index(a.size))
    v = Vocab(random.Random(a.seed))
    crng = random.Random(a.seed + 7)
    pypool = py_lines(v, crng, 60000)
    cpool = c_lines(v, crng, 40000)
    dpool = doc_lines(v, crng, 20000)
    avg = {"py": 30, "h": 40, "doc": 50}
    pools = {"py": pypool, "h": cpool, "doc": dpool}
    PYC_OPS = skew_table(crng, (100, 116, 124, 106, 83, 151, 171, 160, 1, 9, 90, 114, 125, 122),
                         zipf_weights(14, 0.7) + [0.0])
    PYC_ARGS = skew_table(crng, tuple(range(24)), zipf_weights(24, 1.0) + [0.0])
    for _ in range(3000):
        n = crng.randint(1, 6)
        ops, args = crng.randbytes(n).translate(PYC_OPS), crng.randbytes(n).translate(PYC_ARGS)
        PYC_SNIPPETS.append(bytes(b for pair in zip(ops, args) for b in pair))
    PYC_SW[:] = zipf_cum(len(PYC_SNIPPETS), 1.0)
    bg = BinGen(random.Random(a.seed + 11), v)
    magic = importlib.util.MAGIC_NUMBER
    dirs, files = plan(rng, a.size)
    for d in dirs:
        os.makedirs(os.path.join(sp, d), exist_ok=True)
    nbytes = 0
    for rel, kind, size in files:
        rel = rel.replace("3X", ver[0])
        p = os.path.join(sp, rel)
        if kind == "so":
            bg.write(p, size)
        else:
            if kind == "pyc":
                data = magic + struct.pack("<III", 0, 1700000000, size) + pyc_body(rng, v, dpool, size - 16)
            else:
                data = text_file(rng, pools[kind], size, avg[kind])
            with open(p, "wb") as f:
                f.write(data)
        if kind == "so":
            os.chmod(p, 0o755)
        nbytes += size
    ndirs = sum(len(dn) for _, dn, _ in os.walk(a.dir)) + 1
    nfiles = sum(len(fn) for _, _, fn in os.walk(a.dir))
    kinds = {}
    for _, k, s in files:
        c, b = kinds.get(k, (0, 0))
        kinds[k] = (c + 1, b + s)
    print(f"mkenv: {a.dir}: size {a.size}, seed {a.seed}: {nfiles} files, {ndirs} directories, "
          f"{nbytes / MB:.0f} MiB in {time.time() - t0:.1f} s")
    print("mkenv: " + ", ".join(f"{k} {c} ({b / MB:.0f} MiB)" for k, (c, b) in sorted(kinds.items())))
    if not a.no_measure:
        print_measure(a.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
