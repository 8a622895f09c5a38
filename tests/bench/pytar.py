#!/usr/bin/env python3
"""pytar.py: the original tool's path, for the benchmark: a venv saved with Python's
tarfile + gzip (tarfile.open(mode="w:gz"), gzip level 9 as tarfile's default) and
restored with extractall.

    pytar.py c ARCHIVE DIR     # save DIR's contents into ARCHIVE (.tar.gz)
    pytar.py x ARCHIVE DIR     # extract ARCHIVE into DIR (made if missing)
"""
import os
import sys
import tarfile


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("c", "x"):
        sys.exit(__doc__)
    op, archive, d = sys.argv[1:]
    if op == "c":
        with tarfile.open(archive, mode="w:gz") as t:
            t.add(d, arcname=".")
    else:
        os.makedirs(d, exist_ok=True)
        with tarfile.open(archive, mode="r:gz") as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(d, filter="fully_trusted")
            else:
                t.extractall(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
