#!/usr/bin/env python3
"""tests/format_protobuf.py - the JSON Lines output against protobuf's own parser.

    format_protobuf.py PYDIR RELEASE.pb RELEASE.jsonl THEIRS.jsonl

PYDIR holds dmv/v1/record_pb2.py (protoc --python_out, in the build tree).
RELEASE.pb is a varint-delimited stream of released DriverRecords and
RELEASE.jsonl the same release as dmvfilter writes it. Each line must parse
with google.protobuf.json_format.Parse (which refuses unknown fields) into
exactly the protobuf-decoded record, and serialize back to its bytes.
THEIRS.jsonl is written: protobuf's own JSON (MessageToJson, lowerCamelCase
names), one compact line per record, for the caller to read back.
Exit 0 when every record agrees, 1 otherwise.
"""
import json
import sys


def records(data):
    pos, out = 0, []
    while pos < len(data):
        n, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append(data[pos:pos + n])
        pos += n
    return out


def main(argv):
    pydir, pb_path, json_path, theirs_path = argv[1:5]
    sys.path.insert(0, pydir)
    from google.protobuf import json_format
    from dmv.v1 import record_pb2

    recs = records(open(pb_path, "rb").read())
    lines = open(json_path, "rb").read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(recs):
        print(f"{len(lines)} JSON lines for {len(recs)} records")
        return 1
    bad = 0
    with open(theirs_path, "w", encoding="utf-8") as theirs:
        for i, (line, rec) in enumerate(zip(lines, recs)):
            ref = record_pb2.DriverRecord.FromString(rec)
            try:
                got = json_format.Parse(line, record_pb2.DriverRecord())
            except json_format.ParseError as e:
                print(f"record {i}: json_format.Parse refuses it: {e}")
                bad += 1
                continue
            if got != ref or got.SerializeToString() != rec:
                print(f"record {i}: parses to another record than the release")
                bad += 1
            mine = json.dumps(json.loads(json_format.MessageToJson(ref)), ensure_ascii=False,
                              separators=(",", ":"))
            theirs.write(mine + "\n")
    print(f"format_protobuf: {len(recs)} records, {bad} disagree with google.protobuf.json_format")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
