#!/usr/bin/env bash
# kill.sh - SIGKILL at random points of 200,000-record runs: the file named
# with --out is only ever absent, complete, or (when one was there before)
# the older file; never half written. On stdout a killed framed run has a
# trailer only for requests whose records all went out, each counting
# exactly those records.
#
#   modes, in turn: --out (no file before) | --out over an older file |
#                   --out --gzip | framed --out | framed on stdout
#
# The kill time is uniform over the length of a clean run (the shortest of
# three), so most kills land mid-stream; a run that ends before its kill is
# run again with half the delay, twice at most. DMVF_KILL_SEED and DMVF_KILL_ROUNDS override the seed (a
# fixed one by default: the same points every run) and the number of kills.
# Temp files a kill leaves beside the target (.NAME.tmp.XXXXXX) are counted
# and reported; they never carry the target's name. Where the target's
# directory supports O_TMPFILE the output is written to an unnamed file, so
# a kill must leave no temp file at all.
set -u
: "${DMVF_CLI:?}" "${DMVF_GEN:?}" "${DMVF_SRC:?}"
cli=$DMVF_CLI gen=$DMVF_GEN
T=$(mktemp -d "${TMPDIR:-/tmp}/dmvf-cli-kill.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
unset DMVFILTER_PASSPHRASE

if [ "$(head -c 4 "$cli" | od -An -tx1 | tr -d ' \n')" != 7f454c46 ]; then
    echo "skip: $cli is not an ELF executable (a wrapper?): timings would not mean anything"
    exit 0
fi
"$cli" keys init --keyring "$T/kr" --unsealed >/dev/null || { echo "FAIL - keys init"; exit 1; }
"$gen" --count 200000 --seed 31 --out "$T/in.bin" || { echo "FAIL - generate records"; exit 1; }
"$gen" --framed --count 200000 --requests 20 --request-id k --seed 32 --ori NYUNIV000 \
    --agency-kind research --purpose 5 --query-kind list --date 20261122 --out "$T/in.framed" \
    || { echo "FAIL - generate framed"; exit 1; }

python3 - "$cli" "$T" "$DMVF_SRC/examples/policy.yaml" "${DMVF_KILL_SEED:-20261122}" \
    "${DMVF_KILL_ROUNDS:-15}" <<'EOF'
import os, random, signal, subprocess, sys, time

cli, T, policy, seed, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
base = [cli, "filter", "--policy", policy, "--keyring", T + "/kr", "--quiet"]
research = ["--ori", "NYUNIV000", "--agency-kind", "research", "--purpose", "5",
            "--query-kind", "list", "--request-id", "kill", "--date", "2026-11-22"]
modes = {
    "out":       base + research + ["--in", T + "/in.bin"],
    "over-old":  base + research + ["--in", T + "/in.bin"],
    "gzip":      base + research + ["--gzip", "--in", T + "/in.bin"],
    # the framed requests are dated 2026-11-22: judged as of that day (the DMV's replay)
    "framed":    base + ["--format", "framed", "--date", "2026-11-22", "--in", T + "/in.framed"],
    "framed-stdout": base + ["--format", "framed", "--date", "2026-11-22", "--in", T + "/in.framed"],
}
passed = failed = 0
def ok(m):
    global passed; passed += 1; print("ok   - " + m)
def bad(m):
    global failed; failed += 1; print("FAIL - " + m)

def varint(b, i):
    v = s = 0
    while True:
        if i >= len(b): return None, i
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if not c & 0x80: return v, i

def trailers_consistent(d):
    """(trailers, error): each trailer must count the record frames before it;
    a seal (the end of a signed release) is last."""
    i = recs = tr = sealed = 0
    while i < len(d):
        n, j = varint(d, i)
        if n is None or j + n > len(d): break
        body = d[j:j + n]; i = j + n
        if sealed: return tr, "a frame after the seal"
        if body[0] == 0x22: sealed = 1; continue
        if body[0] == 0x12: recs += 1; continue
        if body[0] != 0x1a: return tr, "unexpected frame key %#x" % body[0]
        ln, k = varint(body, 1); t = body[k:k + ln]; k = 0; out = 0
        while k < len(t):
            key, k = varint(t, k)
            if key & 7 == 0:
                v, k = varint(t, k)
                if key >> 3 == 3: out = v
            elif key & 7 == 2:
                l, k = varint(t, k); k += l
            else: return tr, "bad trailer"
        if out != recs: return tr, "trailer %d counts %d records, %d were sent" % (tr, out, recs)
        tr += 1; recs = 0
    return tr, None

# clean runs: the reference bytes, and how long a run takes
ref, dur = {}, {}
os.makedirs(T + "/o", exist_ok=True)
for m in ("out", "gzip", "framed"):
    dst = T + "/ref." + m
    # the shortest of three: a clean run slowed by a neighbour would put
    # the kills past the end of faster runs
    for k in range(3):
        if os.path.exists(dst): os.unlink(dst)
        t0 = time.monotonic()
        rc = subprocess.run(modes[m] + ["--out", dst]).returncode
        d = time.monotonic() - t0
        dur[m] = d if k == 0 else min(dur[m], d)
        b = open(dst, "rb").read() if os.path.exists(dst) else b""
        if rc != 0 or not b: bad("clean %s run: exit %d" % (m, rc)); sys.exit(1)
        if k and b != ref[m]: bad("clean %s runs differ" % m); sys.exit(1)
        ref[m] = b
# the same runs with another destination: the same bytes, about the same time
for m, like in (("over-old", "out"), ("framed-stdout", "framed")):
    ref[m], dur[m] = ref[like], dur[like]
tr, err = trailers_consistent(ref["framed"])
if err or tr != 20: bad("clean framed run: %d trailers %s" % (tr, err or "")); sys.exit(1)
print("      clean runs: " + ", ".join("%s %.2fs" % (m, d) for m, d in dur.items()))

OLD = b"an older release, complete\n"
def tmpfile_supported(d):
    try:
        fd = os.open(d, os.O_TMPFILE | os.O_WRONLY, 0o600)
    except (AttributeError, OSError):
        return False
    os.close(fd)
    return True
no_temps = tmpfile_supported(T + "/o")
print("      O_TMPFILE in the output directory: %s" % ("yes: a kill must leave no temp file" if no_temps
      else "no: temp files a kill leaves are only counted"))
names = list(modes)
stats = {"killed": 0, "finished": 0, "absent": 0, "complete": 0, "old": 0, "temps": 0, "stdout-cut": 0}
for r in range(rounds):
    m = names[r % len(names)]
    target = T + "/o/out.bin"
    delay = rng.uniform(0, dur[m])
    # a run that ended before its kill is run again with half the delay (at
    # most twice), so that a run faster than the clean ones still gets a kill
    for attempt in range(3):
        for f in os.listdir(T + "/o"): os.unlink(T + "/o/" + f)
        if m == "over-old":
            with open(target, "wb") as f: f.write(OLD)
        if m == "framed-stdout":
            sink = open(target, "wb")
            p = subprocess.Popen(modes[m], stdout=sink, stderr=subprocess.DEVNULL)
        else:
            sink = None
            p = subprocess.Popen(modes[m] + ["--out", target], stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        rc = p.wait()
        if sink: sink.close()
        if rc == -signal.SIGKILL or attempt == 2: break
        delay /= 2
    stats["killed" if rc == -signal.SIGKILL else "finished"] += 1
    what = "%s, kill at %.3fs (%s)" % (m, delay, "killed" if rc == -signal.SIGKILL else "had finished")
    others = [f for f in os.listdir(T + "/o") if f != "out.bin"]
    temps = [f for f in others if f.startswith(".out.bin.tmp.")]
    stats["temps"] += len(temps)
    if len(temps) != len(others):
        bad(what + ": unexpected files left: %s" % others); continue
    if temps and no_temps:
        bad(what + ": a temp file was left although O_TMPFILE is supported: %s" % temps); continue
    if m == "framed-stdout":
        d = open(target, "rb").read()
        tr, err = trailers_consistent(d)
        if err: bad(what + ": " + err); continue
        stats["stdout-cut"] += 1
        ok(what + ": %d bytes out, %d complete requests, every trailer counts its records" % (len(d), tr))
        continue
    if not os.path.exists(target):
        if m == "over-old": bad(what + ": the older file vanished"); continue
        stats["absent"] += 1
        ok(what + ": no output file")
        continue
    d = open(target, "rb").read()
    if d == ref[m]:
        stats["complete"] += 1
        ok(what + ": the output file is complete")
    elif m == "over-old" and d == OLD:
        stats["old"] += 1
        ok(what + ": the older file is untouched")
    else:
        bad(what + ": the output file is half written (%d of %d bytes)" % (len(d), len(ref[m])))
print("      %(killed)d killed, %(finished)d had finished; --out: %(absent)d absent, "
      "%(complete)d complete, %(old)d older file kept; %(stdout-cut)d stdout runs checked; "
      "%(temps)d temp files left beside the target by SIGKILL" % stats)
if stats["killed"] < rounds // 2:
    bad("fewer than half the kills landed before the run ended: the test does not test")
else:
    ok("%d of %d kills landed mid-run" % (stats["killed"], rounds))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
