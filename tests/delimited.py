"""tests/delimited.py - varint-delimited streams, protobuf fields and frames,
for the python parts of tests/cli/*.sh (imported, not a test):

    sys.path.insert(0, os.environ["DMVF_SRC"] + "/tests"); from delimited import *
"""


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7f) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(b, i):
    """(value, next index), or (None, i) when b ends inside the varint."""
    v = s = 0
    while i < len(b):
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if not c & 0x80:
            return v, i
    return None, i


def split(data):
    """The messages of a delimited stream, and whether it ends whole (a
    message cut short at the end is left out)."""
    msgs, i = [], 0
    while i < len(data):
        n, j = read_varint(data, i)
        if n is None or j + n > len(data):
            return msgs, False
        msgs.append(data[j:j + n])
        i = j + n
    return msgs, True


def join(msgs):
    return b"".join(varint(len(m)) + m for m in msgs)


def key(field, wt):
    """A protobuf field key of wire type wt."""
    return varint(field << 3 | wt)


def delim(msg):
    """One message of a delimited stream: its length, then it."""
    return varint(len(msg)) + msg


def ld(field, payload):
    """A length-delimited protobuf field."""
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def vi(field, n):
    """A varint protobuf field."""
    return varint(field << 3) + varint(n)


def fields(msg):
    """The top-level fields of a protobuf message: number -> last value
    (an int for varints, bytes for length-delimited fields)."""
    out, k = {}, 0
    while k < len(msg):
        key, k = read_varint(msg, k)
        if key & 7 == 0:
            out[key >> 3], k = read_varint(msg, k)
        elif key & 7 == 2:
            n, k = read_varint(msg, k)
            out[key >> 3] = msg[k:k + n]
            k += n
        else:
            raise ValueError("wire type %d" % (key & 7))
    return out


def without_field(msg, number):
    """msg with every occurrence of top-level field `number` left out."""
    out, k = bytearray(), 0
    while k < len(msg):
        start = k
        key, k = read_varint(msg, k)
        if key & 7 == 0:
            _, k = read_varint(msg, k)
        elif key & 7 == 2:
            n, k = read_varint(msg, k)
            k += n
        else:
            raise ValueError("wire type %d" % (key & 7))
        if key >> 3 != number:
            out += msg[start:k]
    return bytes(out)


FRAME_KIND = {0x0a: "request", 0x12: "record", 0x1a: "trailer", 0x22: "seal"}


def frames(data):
    """A framed stream as (kind, body) pairs: kind is request, record,
    trailer or seal (framed.h), body the Frame's one field's payload."""
    out = []
    for f in split(data)[0]:
        n, j = read_varint(f, 1)
        out.append((FRAME_KIND.get(f[0], "?"), f[j:j + n]))
    return out
