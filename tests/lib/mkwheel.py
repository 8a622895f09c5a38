#!/usr/bin/env python3
"""Build a tiny pure-Python wheel with a console script, offline, no setuptools.

usage: mkwheel.py [--requires DEP]... OUTDIR NAME [VERSION]
Writes OUTDIR/NAME-VERSION-py3-none-any.whl holding module NAME whose console script
NAME prints "hello from NAME <sys.prefix>" and exits 0. Prints the wheel's path.
Each --requires DEP (a requirement such as "beta>=1.0") becomes a Requires-Dist line,
so pip installs DEP with it; the module's VERSION attribute is VERSION.
"""
import base64
import hashlib
import os
import sys
import zipfile


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "%s,sha256=%s,%d" % (path, digest.decode(), len(data))


def main():
    args, requires = sys.argv[1:], []
    while args and args[0] == "--requires" and len(args) > 1:
        requires.append(args[1])
        args = args[2:]
    if len(args) not in (2, 3) or args[0].startswith("-"):
        sys.exit(__doc__)
    outdir, name = args[0], args[1]
    version = args[2] if len(args) == 3 else "1.0"
    dist = "%s-%s.dist-info" % (name, version)
    files = {
        "%s/__init__.py" % name: (
            "import sys\n\nVERSION = %r\n\n"
            "def main():\n"
            "    print('hello from %s', sys.prefix)\n"
            "    return 0\n" % (version, name)),
        "%s/METADATA" % dist: (
            "Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: kpy test wheel\n" % (name, version) +
            "".join("Requires-Dist: %s\n" % r for r in requires)),
        "%s/WHEEL" % dist: (
            "Wheel-Version: 1.0\nGenerator: kpy-mkwheel\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"),
        "%s/entry_points.txt" % dist: (
            "[console_scripts]\n%s = %s:main\n" % (name, name)),
        "%s/top_level.txt" % dist: name + "\n",
    }
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, "%s-%s-py3-none-any.whl" % (name, version))
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, text in files.items():
            data = text.encode()
            z.writestr(arc, data)
            record.append(record_line(arc, data))
        record.append("%s/RECORD,," % dist)
        z.writestr("%s/RECORD" % dist, "\n".join(record) + "\n")
    print(path)


if __name__ == "__main__":
    main()
