#!/usr/bin/env python3
"""stats.py - the benchmark table from bench/run.sh's measurements.

  stats.py --scenarios S.tsv --raw R.tsv --memory M.tsv --env E.tsv --out FILE [--formats]

S.tsv: id, group, label, records, bytes, kind (wall|hot|refused), command
R.tsv: id, round, seconds, peak RSS (KiB), user s, system s
M.tsv: records, peak RSS (KiB), seconds
E.tsv: key, value (machine, versions, load)

Per scenario: the median of the rounds' seconds with min-max, records/s
and MB/s at the median, the highest peak RSS, the median CPU seconds, and
"police / this": the police profile's records/s (file->file, 1 thread)
divided by this row's. Then the targets, measured as ratios in the same run,
and the memory check. Prints the Markdown to stdout and writes it to FILE.
--formats: the record formats run (bench/run.sh --formats) and its targets.
"""
import argparse
import statistics
import sys

TARGETS = [
    # (label, numerator id, denominator id, required ratio or None, note)
    ("police vs copy limit (file→file)", "police", "copy", None,
     "the share of the copy limit the filter reaches; 1.00× would be free filtering"),
    ("police vs protobuf-c reference path (file→file)", "police", "ref", 5.0,
     "CLI against refpath: same plan, same I/O"),
    ("wire rewriter vs protobuf-c reference, hot loop only", "rwhot", "refhot", 5.0,
     "in memory, no I/O: the hot path alone"),
    ("police vs Miller, JSON Lines", "police", "mlrjson", 200.0, "records/s"),
    ("police vs node + fast-redact", "police", "node", 30.0, "records/s"),
    ("police vs Miller, CSV", "police", "mlrcsv", None, "records/s"),
    ("police vs jq", "police", "jq", None, "records/s"),
    ("gzip output (ISA-L, default level 1) vs plain output", "gzout1", "police", 0.5,
     "records/s, 1 thread, the same run"),
    ("gzip output (zlib, level 1) vs plain output", "gzoutzlib1", "police", None, "records/s, 1 thread"),
    ("gzip output (zlib, level 6: before ISA-L) vs plain output", "gzoutzlib6", "police", None,
     "records/s, 1 thread"),
    ("zstd output vs plain output", "zstdout", "police", None, "records/s, 1 thread"),
    ("gzip input (ISA-L) vs plain input", "gzin", "police", 0.7, "records/s, 1 thread"),
    ("ISA-L inflate alone vs plain input", "inflate", "police", None,
     "the ceiling of gzip input with one inflating thread"),
    ("gzip input (ISA-L) vs ISA-L inflate alone", "gzin", "inflate", None,
     "what the rewrite beside the inflate costs"),
    ("gzip input (zlib) vs plain input", "gzinzlib", "police", None, "records/s, 1 thread"),
    ("zstd input vs plain input", "zstdin", "police", None, "records/s, 1 thread"),
    ("gzip output, 2 threads vs 1 thread", "gzout2t", "gzout1", None, "scaling with --threads"),
    ("gzip input (1 MiB members), 2 threads vs plain input, 2 threads", "gzinm2t", "threads2", 0.7,
     "records/s, members inflated on the threads"),
    ("gzip input (1 MiB members), 2 threads vs 1 thread", "gzinm2t", "gzinm", None, "scaling with --threads"),
    ("gzip input (1 MiB members), minimal profile, 2 threads vs 1 thread", "gzinmmin2t", "gzinmmin", None,
     "scaling with --threads where the inflate is most of the run"),
    ("gzip input (gzip -6, one member), 2 threads vs 1 thread", "gzin2t", "gzin", None,
     "one member: one inflater whatever --threads"),
]

TARGETS_FORMATS = [
    ("JSON Lines in → out vs Miller, JSON Lines", "fjj", "mlrjson", 25.0, "records/s"),
    ("JSON Lines in → out vs node + fast-redact", "fjj", "node", 5.0, "records/s"),
    ("CSV in → out vs Miller, CSV", "fcc", "mlrcsv", 5.0, "records/s"),
    ("protobuf in → CSV out vs protobuf in → out", "fpc", "police", 0.5,
     "within 2× of protobuf out: records/s at least half"),
    ("protobuf in → JSON Lines out vs protobuf in → out", "fpj", "police", None, "records/s"),
]


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def fmt_int(n):
    return "{:,}".format(int(n)).replace(",", "\u202f")


def fmt_rate(x):
    if x >= 100:
        return fmt_int(round(x))
    return "%.1f" % x


def fmt_s(x):
    return "%.3f" % x if x < 10 else "%.2f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--memory", required=True)
    ap.add_argument("--env", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--formats", action="store_true")
    a = ap.parse_args()
    targets = TARGETS_FORMATS if a.formats else TARGETS

    scen = []
    for row in read_tsv(a.scenarios):
        sid, group, label, recs, nbytes, kind, cmd = row[:7]
        scen.append(dict(id=sid, group=group, label=label, records=int(recs),
                         bytes=int(nbytes), kind=kind, cmd=cmd))
    runs = {}
    for row in read_tsv(a.raw):
        sid, _round, secs, rss = row[:4]
        cpu = float(row[4]) + float(row[5]) if len(row) >= 6 else float("nan")
        runs.setdefault(sid, []).append((float(secs), int(rss), cpu))
    env = dict((r[0], r[1]) for r in read_tsv(a.env))
    mem = [(int(r[0]), int(r[1]), float(r[2])) for r in read_tsv(a.memory)]

    stats = {}
    for s in scen:
        rs = runs.get(s["id"], [])
        if not rs:
            continue
        secs = [r[0] for r in rs]
        med = statistics.median(secs)
        st = dict(median=med, lo=min(secs), hi=max(secs), n=len(secs),
                  rss=max(r[1] for r in rs) / 1024.0,
                  cpu=statistics.median(r[2] for r in rs))
        st["rps"] = s["records"] / med if med > 0 else float("inf")
        st["mbps"] = s["bytes"] / 1e6 / med if med > 0 else float("inf")
        stats[s["id"]] = st
    police = stats.get("police")

    out = []
    w = out.append
    w("# dmvfilter benchmark results")
    w("")
    w("%s run of `bench/run.sh`, %s, %s rounds: every scenario once per round, in the same "
      "order, all in one run." % (env.get("mode", "?"), env.get("date", "?"), env.get("runs", "?")))
    w("")
    w("| machine | |")
    w("|---|---|")
    for k in ("cpu", "cores", "memory", "kernel", "load", "compiler", "build", "commit",
              "threads", "peers", "records", "rounds"):
        if k in env:
            w("| %s | %s |" % (k, env[k]))
    w("")
    w("## Scenarios")
    w("")
    w("Seconds: median of the rounds, with min–max. records/s and MB/s at the median; MB is "
      "the input in its own format, uncompressed (10^6 bytes). Peak RSS: the highest over the "
      "rounds, of the measured process only (in a pipe, the filter). CPU: user + system "
      "seconds of that process (median). **police ÷ this**: the police profile's records/s "
      "(file→file, 1 thread) over this row's; above 1 the police run is faster.")
    w("")
    w("| group | scenario | records | MB | seconds | min–max | records/s | MB/s | peak RSS MiB | CPU s | police ÷ this |")
    w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    notes = []
    for s in scen:
        st = stats.get(s["id"])
        if not st:
            continue
        label = s["label"]
        recs = fmt_int(s["records"])
        if s["group"] == "peer":
            recs += " †"
        if s["kind"] == "hot":
            label += " ‡"
        if s["kind"] == "refused":
            rps = mbps = ratio = "—"
            label += " §"
        else:
            rps, mbps = fmt_rate(st["rps"]), "%.1f" % st["mbps"]
            ratio = "%.2f×" % (police["rps"] / st["rps"]) if police else "—"
        w("| %s | %s | %s | %.1f | %s | %s–%s | %s | %s | %.1f | %s | %s |" % (
            s["group"], label, recs, s["bytes"] / 1e6, fmt_s(st["median"]), fmt_s(st["lo"]),
            fmt_s(st["hi"]), rps, mbps, st["rss"], "%.2f" % st["cpu"], ratio))
    w("")
    w("† Peers run on fewer records (they are slow); their records/s is a rate per record and "
      "compares directly; at that rate 1 M records would take 1 000 000 ÷ records/s seconds. "
      "Peers do strictly less than the police profile: they delete the redacted fields and "
      "hash (Miller, node: unkeyed SHA-256) or replace (jq: it has no hash function) the "
      "pseudonymized one; they do not mask the phone nor normalize class and restrictions.  ")
    w("‡ Seconds of the transform loop alone, as the tool measures it (input held in memory, "
      "output to a reused buffer, no I/O); peak RSS and CPU seconds include reading the whole "
      "input into memory first.  ")
    w("§ The request is refused before a byte is read: the time is the cost of saying no "
      "(policy, keyring, decision); nothing is written.")
    w("")

    w("## Targets (ratios measured in this run)")
    w("")
    w("Ratio: records/s over records/s, at the medians (wall time). By CPU: the same with "
      "the median CPU seconds (user + system) instead, a steadier figure on a busy machine "
      "and a per-core one where a peer runs on more than one core; not given for the hot "
      "loops, whose CPU time includes reading the input into memory. Met: judged on the "
      "wall-time ratio.")
    w("")
    w("| target | ratio | by CPU | required | met | what |")
    w("|---|--:|--:|--:|---|---|")
    sc = dict((s["id"], s) for s in scen)
    for label, num, den, need, what in targets:
        if num not in stats or den not in stats:
            continue
        r = stats[num]["rps"] / stats[den]["rps"]
        cpu = "—"
        if sc[num]["kind"] != "hot" and sc[den]["kind"] != "hot" and stats[num]["cpu"] > 0:
            a_rate = sc[num]["records"] / stats[num]["cpu"]
            b_rate = sc[den]["records"] / stats[den]["cpu"]
            cpu = "%.2f×" % (a_rate / b_rate)
        req = "≥ %g×" % need if need else "—"
        met = ("yes" if r >= need else "**no**") if need else "—"
        w("| %s | %.2f× | %s | %s | %s | %s |" % (label, r, cpu, req, met, what))
    w("")

    if mem:
        w("## Memory")
        w("")
        if a.formats:
            w("The police request, JSON Lines in and out (`fmtbench --from jsonl --to jsonl`, "
              "file → /dev/null), one run each; peak RSS of fmtbench.")
        else:
            w("The police request over records generated into a pipe "
              "(`dmvf-gen | dmvfilter filter … | pipeio sink`), one run each; peak RSS of dmvfilter.")
        w("")
        w("| records | peak RSS MiB | seconds |")
        w("|--:|--:|--:|")
        for n, rss, secs in mem:
            w("| %s | %.1f | %.1f |" % (fmt_int(n), rss / 1024.0, secs))
        w("")
        if len(mem) >= 2:
            lo, hi = mem[0][1], mem[-1][1]
            same = abs(hi - lo) <= 0.10 * lo
            under = max(m[1] for m in mem) < 64 * 1024
            w("Same within 10%%: **%s** (%+.1f%%). Under 64 MiB: **%s**." % (
                "yes" if same else "no", 100.0 * (hi - lo) / lo, "yes" if under else "no"))
            w("")

    w("## Commands")
    w("")
    w("As run (`{T}` is `/usr/bin/time -f '%M %U %S' -o FILE`, around the measured process; "
      "`$O` an output folder emptied before each run):")
    w("")
    for s in scen:
        w("- **%s** (`%s`):" % (s["label"], s["id"]))
        w("  ```")
        w("  " + s["cmd"])
        w("  ```")
    w("")
    text = "\n".join(out) + "\n"
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
