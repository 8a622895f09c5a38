#!/usr/bin/env python3
"""Build a tiny pure-Python wheel with a console script, offline, no setuptools.

usage: mkwheel.py OUTDIR NAME [VERSION]
Writes OUTDIR/NAME-VERSION-py3-none-any.whl holding module NAME whose console script
NAME prints "hello from NAME <sys.prefix>" and exits 0. Prints the wheel's path.
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
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    outdir, name = sys.argv[1], sys.argv[2]
    version = sys.argv[3] if len(sys.argv) == 4 else "1.0"
    dist = "%s-%s.dist-info" % (name, version)
    files = {
        "%s/__init__.py" % name: (
            "import sys\n\n"
            "def main():\n"
            "    print('hello from %s', sys.prefix)\n"
            "    return 0\n" % name),
        "%s/METADATA" % dist: (
            "Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: kpy test wheel\n" % (name, version)),
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
