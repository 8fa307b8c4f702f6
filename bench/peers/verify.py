#!/usr/bin/env python3
"""verify.py SPEC FORMAT FILE N - a peer's output is a release: N records,
none of them holding a path the police profile redacts (SPEC, police.json),
and the pseudonymized fields replaced. FORMAT is jsonl or csv. Exit 0 when
it is, 1 with the first problem otherwise."""
import csv
import json
import sys


def fail(msg):
    print("verify.py: " + msg, file=sys.stderr)
    return 1


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 64
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    fmt, path, want = sys.argv[2], sys.argv[3], int(sys.argv[4])
    redact = [p.split(".") for p in spec["redact"]]
    pseudo = spec["pseudonymize"]
    n = 0
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as f:
            for line in f:
                o = json.loads(line)
                for p in redact:
                    x = o
                    for k in p[:-1]:
                        x = x.get(k) if isinstance(x, dict) else None
                    if isinstance(x, dict) and p[-1] in x:
                        return fail("record %d still has %s" % (n, ".".join(p)))
                for k in pseudo:
                    if k in o and str(o[k]).startswith("NY-"):
                        return fail("record %d: %s not replaced" % (n, k))
                n += 1
    elif fmt == "csv":
        with open(path, encoding="utf-8", newline="") as f:
            rows = csv.reader(f)
            header = next(rows)
            for col in header:
                for p in redact:
                    d = ".".join(p)
                    if col == d or col.startswith(d + "."):
                        return fail("column %s is still there" % col)
            idx = [header.index(k) for k in pseudo if k in header]
            for row in rows:
                for i in idx:
                    if row[i].startswith("NY-"):
                        return fail("record %d: %s not replaced" % (n, header[i]))
                n += 1
    else:
        return fail("unknown format " + fmt)
    if n != want:
        return fail("%d records, expected %d" % (n, want))
    return 0


if __name__ == "__main__":
    sys.exit(main())
