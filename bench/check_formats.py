#!/usr/bin/env python3
"""check_formats.py PROTO PB JSONL CSV [N] - the three dmvf-gen formats hold
the same records.

Decodes the first N (default 2000) records of the delimited protobuf stream
PB with a small wire decoder driven by the .proto file PROTO (record.proto),
maps each to the JSON the generator documents (proto field names, defaults
omitted, enums by name, bytes base64) and to the flattened CSV row, and
compares them with the lines of JSONL and the rows of CSV. Exit 0 when all
agree, 1 with the first difference otherwise.
"""
import base64
import csv
import json
import re
import sys

SCALARS = {"string", "bytes", "uint32", "int32", "bool"}


def parse_proto(path):
    """messages: name -> {number: (field name, type, repeated)}; enums: name
    -> {value: name}, a nested enum under "Message.Enum"; a field's type is
    resolved to the enum nested in its message first"""
    text = re.sub(r"//[^\n]*", "", open(path, encoding="utf-8").read())
    messages, enums = {}, {}
    stack = []
    for tok in re.finditer(r"(message|enum)\s+(\w+)\s*\{|\}|([^;{}]+);", text):
        if tok.group(1):
            name = tok.group(2)
            if tok.group(1) == "enum" and stack:
                name = stack[-1][1] + "." + name
            stack.append((tok.group(1), name))
            (messages if tok.group(1) == "message" else enums)[name] = {}
        elif tok.group(0) == "}":
            if stack:
                stack.pop()
        elif stack:
            kind, name = stack[-1]
            stmt = tok.group(3).strip()
            if kind == "enum":
                m = re.match(r"(\w+)\s*=\s*(-?\d+)", stmt)
                if m:
                    enums[name][int(m.group(2))] = m.group(1)
            else:
                m = re.match(r"(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)", stmt)
                if m:
                    typ = m.group(2)
                    if name + "." + typ in enums:
                        typ = name + "." + typ
                    messages[name][int(m.group(4))] = (m.group(3), typ, bool(m.group(1)))
    return messages, enums


def varint(b, i):
    x = shift = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return x, i


def decode(b, msg, messages, enums):
    """bytes -> the documented JSON object (fields in number order)"""
    fields = messages[msg]
    vals = {}
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        else:
            raise ValueError("unexpected wire type %d" % wt)
        name, typ, rep = fields[num]
        if typ in messages:
            v = decode(v, typ, messages, enums)
        elif typ == "string":
            v = v.decode("utf-8")
        elif typ == "bytes":
            v = base64.b64encode(v).decode("ascii")
        elif typ == "bool":
            v = bool(v)
        elif typ == "int32" or typ in enums:
            v = v - (1 << 64) if v >= 1 << 63 else v
            if typ in enums:
                v = enums[typ].get(v, v)
        if rep:
            vals.setdefault(num, []).append(v)
        else:
            vals[num] = v
    out = {}
    for num in sorted(vals):
        out[fields[num][0]] = vals[num]
    return out


def flatten(obj, msg, messages, prefix, row, caps):
    for num in sorted(messages[msg]):
        name, typ, rep = messages[msg][num]
        col = prefix + name
        v = obj.get(name) if obj is not None else None
        if rep:
            for k in range(caps.get(col_path(col), 2)):
                e = v[k] if v is not None and k < len(v) else None
                if typ in messages:
                    flatten(e, typ, messages, "%s.%d." % (col, k), row, caps)
                else:
                    row["%s.%d" % (col, k)] = "" if e is None else cell(e)
        elif typ in messages:
            flatten(v, typ, messages, col + ".", row, caps)
        else:
            row[col] = "" if v is None else cell(v)


def col_path(col):
    return re.sub(r"\.\d+(?=\.|$)", "", col)


def cell(v):
    if v is True:
        return "true"
    return str(v)


def main():
    if len(sys.argv) < 5:
        print(__doc__.strip(), file=sys.stderr)
        return 64
    proto, pb, jsonl, csvf = sys.argv[1:5]
    limit = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
    messages, enums = parse_proto(proto)
    caps = {"person.aliases": 2, "license.restrictions": 3, "license.endorsements": 2,
            "documents": 2, "vehicles": 2, "history": 3}
    data = open(pb, "rb").read()
    jl = open(jsonl, encoding="utf-8")
    cf = open(csvf, encoding="utf-8", newline="")
    rows = csv.DictReader(cf)
    i = pos = 0
    while pos < len(data) and i < limit:
        n, pos = varint(data, pos)
        want = decode(data[pos:pos + n], "DriverRecord", messages, enums)
        pos += n
        got = json.loads(jl.readline())
        if got != want:
            print("record %d: JSON differs from protobuf:\n  pb:   %s\n  json: %s"
                  % (i, json.dumps(want)[:400], json.dumps(got)[:400]), file=sys.stderr)
            return 1
        flat = {}
        flatten(want, "DriverRecord", messages, "", flat, caps)
        row = next(rows)
        if list(row.keys()) != list(flat.keys()):
            print("CSV header differs from the schema walk", file=sys.stderr)
            return 1
        if row != flat:
            diff = [k for k in flat if flat[k] != row[k]][:5]
            print("record %d: CSV differs in %s" % (i, diff), file=sys.stderr)
            return 1
        i += 1
    print("check_formats: %d records agree in pb, jsonl and csv" % i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
