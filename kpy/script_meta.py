# script_meta.py: run by kpy run with a base Python (python -I -c), never installed.
# Reads a script's PEP 723 block with the interpreter's own tomllib, and evaluates
# requires-python against this interpreter. Answers on stdout, one "key<TAB>value"
# line each; a problem is one "error<TAB>message" line and exit status 3 (4: this
# Python has no tomllib).
#
#   parse SCRIPT   version, full, match (1/0), requires-python, hash, dep..., raw...
#   check SPEC     version, full, match
import hashlib
import re
import sys

# the reference regular expression of the inline script metadata specification
BLOCK = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"
NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(.*)$", re.S)
CLAUSE = re.compile(r"^(~=|===|==|!=|<=|>=|<|>)\s*([0-9][0-9.]*(?:\.\*)?)$")


def fail(msg, code=3):
    sys.stdout.write("error\t%s\n" % msg.replace("\n", " ").replace("\t", " "))
    sys.exit(code)


def release(text):
    return tuple(int(p) for p in text.split("."))


def padded(t, n):
    return tuple(t) + (0,) * (n - len(t))


def clause_ok(op, v, have):
    if v.endswith(".*"):
        if op not in ("==", "!="):
            raise ValueError("'.*' goes only with == and !=")
        want = release(v[:-2])
        same = padded(have, len(want))[:len(want)] == want
        return same if op == "==" else not same
    want = release(v)
    n = max(len(want), len(have))
    a, b = padded(have, n), padded(want, n)
    if op == "==" or op == "===":
        return a == b
    if op == "!=":
        return a != b
    if op == ">=":
        return a >= b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == "<":
        return a < b
    if len(want) < 2:  # ~=
        raise ValueError("~= needs at least two parts (~=3.11)")
    return a >= b and padded(have, len(want) - 1)[:len(want) - 1] == want[:-1]


def spec_ok(spec):
    have = tuple(sys.version_info[:3])
    for part in spec.split(","):
        part = part.strip()
        m = CLAUSE.match(part)
        if m is None:
            fail("requires-python '%s': cannot read '%s' (use ==, !=, >=, <=, >, <, ~= "
                 "with a version such as 3.11, or ==3.11.*)" % (spec, part))
        try:
            if not clause_ok(m.group(1), m.group(2), have):
                return False
        except ValueError as err:
            fail("requires-python '%s': %s" % (spec, err))
    return True


def me(spec):
    v = sys.version_info
    print("version\t%d.%d" % (v[0], v[1]))
    print("full\t%d.%d.%d" % (v[0], v[1], v[2]))
    print("match\t%d" % (1 if spec is None or spec_ok(spec) else 0))


def has_control(s):
    return any(ord(c) < 0x20 or ord(c) == 0x7f for c in s)


def read_block(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as err:
        fail("cannot read %s: %s" % (path, err.strerror))
    found = [m for m in re.finditer(BLOCK, text) if m.group("type") == "script"]
    if not found:
        return None
    if len(found) > 1:
        lines = [str(text.count("\n", 0, m.start()) + 1) for m in found]
        fail("%s has %d '# /// script' blocks (lines %s): keep one" %
             (path, len(found), ", ".join(lines)))
    start = text.count("\n", 0, found[0].start()) + 1
    content = "".join(line[2:] if line.startswith("# ") else line[1:]
                      for line in found[0].group("content").splitlines(keepends=True))
    try:
        import tomllib
    except ImportError:
        fail("reading the '# /// script' block needs Python 3.11 or newer (tomllib); "
             "this is %d.%d" % sys.version_info[:2], 4)
    try:
        return tomllib.loads(content)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            where = "line %d" % (start + int(m.group(1)))
            msg = msg[:m.start()].rstrip()
        else:
            where = "the block starting at line %d" % start
        fail("%s, %s: malformed '# /// script' block (starts at line %d): %s" %
             (path, where, start, msg))


def parse(path):
    data = read_block(path)
    if data is None:
        data = {}
    spec = data.get("requires-python")
    deps = data.get("dependencies", [])
    if spec is not None and (not isinstance(spec, str) or has_control(spec)):
        fail("%s: requires-python must be a string such as \">=3.11\"" % path)
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        fail("%s: dependencies must be a list of strings such as [\"numpy>=1.26\"]" % path)
    norm = {}
    for d in deps:
        m = NAME.match(d.strip())
        rest = m.group(2).strip() if m else ""
        # after the name: extras, a version, a marker, or "@ URL"
        if (m is None or has_control(d) or
                (rest and rest[0] not in "[(;<>=!~" and not re.match(r"@\s+\S", rest))):
            fail("%s: dependency %r is not a requirement (NAME, NAME[extra], "
                 "NAME>=1.0, ...)" % (path, d))
        key = re.sub(r"[-_.]+", "-", m.group(1)).lower() + "".join(m.group(2).split())
        norm.setdefault(key, d.strip())
    keys = sorted(norm)
    me(spec)
    if spec is not None:
        print("requires-python\t%s" % spec)
    print("hash\t%s" % hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16])
    for k in keys:
        print("dep\t%s" % k)
    for k in keys:
        print("raw\t%s" % norm[k])


def main():
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    if len(sys.argv) != 3 or sys.argv[1] not in ("parse", "check"):
        fail("usage: parse SCRIPT | check SPEC")
    if sys.argv[1] == "parse":
        parse(sys.argv[2])
    else:
        me(sys.argv[2])


main()
