// client.mjs - a Connect client of `dmvfilter serve`: @connectrpc/connect-node
// over the service's Unix socket (HTTP/1.1), with the messages and the service
// descriptor generated from schema/dmv/v1/service.proto by protoc-gen-es.
//
//   node client.mjs prepare GEN DIR   DIR/recs.bin -> DIR/framed.in, the police
//                                     request and its records as a framed stream
//   node client.mjs check GEN DIR     the calls; prints "ok   - ..." / "FAIL - ..."
//                                     and "N passed, M failed"; exit 1 on a failure
//
// GEN holds the generated dmv/v1/*_pb.js. DIR holds recs.bin and twins.bin
// (dmvf-gen: varint-delimited DriverRecords), framed.out (`dmvfilter filter
// --format framed` of framed.in) and the sockets: a.sock (the service, this uid
// a client for NY and DC), l.sock (the same with --max-body 1K), u.sock (a
// policy whose only client has another uid).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, sizeDelimitedEncode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

const [mode, gen, dir] = process.argv.slice(2);
if (!["prepare", "check"].includes(mode) || !gen || !dir) {
  console.error("usage: node client.mjs prepare|check GEN DIR");
  process.exit(64);
}
const load = (name) => import(pathToFileURL(join(gen, "dmv/v1", name)).href);
const { DriverRecordSchema } = await load("record_pb.js");
const { RequestSchema, TrailerSchema, FrameSchema, QueryKind, LegalProcess, Decision } = await load("request_pb.js");
const { ReleaseService, ReleaseRequestSchema, ReleaseResponseSchema } = await load("service_pb.js");

// readDelimited FILE: the varint-delimited DriverRecords of a dmvf-gen file
function readDelimited(file) {
  const r = new BinaryReader(readFileSync(file));
  const out = [];
  while (r.pos < r.len) out.push(fromBinary(DriverRecordSchema, r.bytes()));
  return out;
}
// readFramed FILE: the records and trailers of a framed stream
function readFramed(file) {
  const r = new BinaryReader(readFileSync(file));
  const out = { records: [], trailers: [] };
  while (r.pos < r.len) {
    const f = fromBinary(FrameSchema, r.bytes());
    if (f.body.case === "record") out.records.push(f.body.value);
    else if (f.body.case === "trailer") out.trailers.push(f.body.value);
  }
  return out;
}

const police = (id) => create(RequestSchema, {
  requestId: id, ori: "NY0300000", purpose: 1, queryKind: QueryKind.BY_LICENSE,
});

if (mode === "prepare") {
  const frames = [create(FrameSchema, { body: { case: "request", value: police("p1") } })];
  for (const rec of readDelimited(join(dir, "recs.bin")))
    frames.push(create(FrameSchema, { body: { case: "record", value: rec } }));
  writeFileSync(join(dir, "framed.in"), Buffer.concat(frames.map((f) => sizeDelimitedEncode(FrameSchema, f))));
  process.exit(0);
}

let pass = 0, fail = 0;
const ok = (d) => { pass++; console.log(`ok   - ${d}`); };
const bad = (d) => { fail++; console.log(`FAIL - ${d}`); };
const check = (d, cond, why = "") => (cond ? ok(d) : bad(why ? `${d}: ${why}` : d));

const client = (sock, binary) => createClient(ReleaseService, createConnectTransport({
  baseUrl: "http://localhost",
  httpVersion: "1.1",
  nodeOptions: { socketPath: join(dir, sock) },
  useBinaryFormat: binary,
  jsonOptions: { ignoreUnknownFields: false },
  acceptCompression: [],
}));
// call FN: the response, its headers and trailers, or the ConnectError
async function call(fn, req) {
  const seen = { headers: null, trailers: null };
  try {
    seen.res = await fn(req, { onHeader: (h) => { seen.headers = h; }, onTrailer: (t) => { seen.trailers = t; } });
  } catch (e) {
    seen.err = ConnectError.from(e);
  }
  return seen;
}
const errOf = (c) => (c.err ? `${Code[c.err.code]}: ${c.err.rawMessage}` : "no error");
const expectCode = (desc, c, code) =>
  check(desc, c.err && c.err.code === code, c.err ? errOf(c) : "the call succeeded");
const sameMessages = (schema, a, b) => a.length === b.length && a.every((m, i) => equals(schema, m, b[i]));

const recs = readDelimited(join(dir, "recs.bin"));
const twins = readDelimited(join(dir, "twins.bin"));
const framed = readFramed(join(dir, "framed.out"));
const bin = client("a.sock", true), json = client("a.sock", false);
const release = (records, request = police("p1")) => create(ReleaseRequestSchema, { request, records });

// ---- binary and JSON: the same release as filter --format framed ----
check("framed.out holds the police release", framed.records.length === recs.length && framed.trailers.length === 1,
  `${framed.records.length} records, ${framed.trailers.length} trailers`);
const rb = await call(bin.release, release(recs));
check("binary Release succeeds", rb.res, errOf(rb));
check("binary reply: application/proto", rb.headers?.get("content-type") === "application/proto",
  rb.headers?.get("content-type"));
if (rb.res) {
  check("binary reply: the framed release's records", sameMessages(DriverRecordSchema, rb.res.records, framed.records));
  check("binary reply: the framed release's trailer", framed.trailers[0] && rb.res.trailer &&
    equals(TrailerSchema, rb.res.trailer, framed.trailers[0]));
  check("binary reply: released, signed", rb.res.trailer?.decision === Decision.RELEASE &&
    rb.res.trailer.signature.length === 64);
}
const rj = await call(json.release, release(recs));
check("JSON Release succeeds", rj.res, errOf(rj));
check("JSON reply: application/json", rj.headers?.get("content-type") === "application/json",
  rj.headers?.get("content-type"));
if (rj.res && rb.res) {
  check("JSON reply: the framed release's records", sameMessages(DriverRecordSchema, rj.res.records, framed.records));
  check("JSON reply: the same response as the binary one", equals(ReleaseResponseSchema, rj.res, rb.res));
}

// ---- twins: a marked record and its twin give identical replies ----
const rt = await call(bin.release, release(twins));
check("twins: Release succeeds", rt.res, errOf(rt));
if (rt.res && rb.res) {
  check("twins: identical responses", equals(ReleaseResponseSchema, rt.res, rb.res));
  check("twins: identical bytes", Buffer.compare(toBinary(ReleaseResponseSchema, rt.res),
    toBinary(ReleaseResponseSchema, rb.res)) === 0);
}
const rtj = await call(json.release, release(twins));
check("twins over JSON: identical responses", rtj.res && rj.res && equals(ReleaseResponseSchema, rtj.res, rj.res));

// ---- canary: what the profile withholds never reaches the client ----
const canary = create(DriverRecordSchema, {
  recordId: "X1", person: { familyName: "Doe", ssn: "CANARY-123-45-6789" }, marking: { program: "AB60" },
});
for (const [name, c] of [["binary", bin], ["JSON", json]]) {
  const rc = await call(c.release, release([canary], police("c1")));
  const out = rc.res ? Buffer.from(toBinary(ReleaseResponseSchema, rc.res)) : Buffer.alloc(0);
  check(`canary (${name}): the name is released`, rc.res?.records[0]?.person?.familyName === "Doe", errOf(rc));
  check(`canary (${name}): no SSN, no marking`, rc.res && !out.includes("CANARY") && !out.includes("AB60") &&
    rc.res.records[0]?.marking === undefined);
}

// ---- Explain ----
const rx = await call(json.explain, { request: { ori: "NY0300000" } });
check("Explain succeeds", rx.res, errOf(rx));
check("Explain says the rule", rx.res?.text.includes("in-state police"), rx.res?.text);
const rxb = await call(bin.explain, { request: { ori: "NY0300000" } });
check("Explain over binary: the same text", rxb.res && rx.res && rxb.res.text === rx.res.text);

// ---- not found: a refusal is, to the client, exactly a genuine miss ----
const ice = (lp) => create(RequestSchema, {
  requestId: "q", ori: "DCICE0100", tags: ["immigration-enforcement"], queryKind: QueryKind.BY_LICENSE, legalProcess: lp,
});
const headers = (h) => [...(h ?? [])].filter(([k]) => k !== "date").map(([k, v]) => `${k}: ${v}`).join("\n");
for (const [name, c] of [["binary", bin], ["JSON", json]]) {
  const miss = await call(c.release, release([], ice(LegalProcess.JUDICIAL_WARRANT)));
  const refused = await call(c.release, release(recs, ice(LegalProcess.ADMINISTRATIVE_SUBPOENA)));
  check(`not-found (${name}): both succeed`, miss.res && refused.res, `${errOf(miss)} / ${errOf(refused)}`);
  if (!miss.res || !refused.res) continue;
  check(`not-found (${name}): no records`, refused.res.records.length === 0);
  check(`not-found (${name}): identical responses`, equals(ReleaseResponseSchema, miss.res, refused.res));
  check(`not-found (${name}): identical bytes`, Buffer.compare(toBinary(ReleaseResponseSchema, miss.res),
    toBinary(ReleaseResponseSchema, refused.res)) === 0);
  check(`not-found (${name}): the trailer is a release of none`, refused.res.trailer?.decision === Decision.RELEASE &&
    refused.res.trailer.recordsOut === 0n);
  check(`not-found (${name}): identical headers but Date`, headers(miss.headers) === headers(refused.headers),
    `\n${headers(miss.headers)}\n--\n${headers(refused.headers)}`);
  check(`not-found (${name}): identical trailers`, headers(miss.trailers) === headers(refused.trailers));
}

// ---- errors ----
const ca = await call(bin.release, release(recs, create(RequestSchema, { requestId: "c1", ori: "CA0000001" })));
expectCode("an ORI outside the client's list: PermissionDenied", ca, Code.PermissionDenied);
const caj = await call(json.release, release(recs, create(RequestSchema, { requestId: "c2", ori: "CA0000001" })));
expectCode("... over JSON too", caj, Code.PermissionDenied);
const nr = await call(bin.release, create(ReleaseRequestSchema, { records: recs }));
expectCode("no request: InvalidArgument", nr, Code.InvalidArgument);
for (const [name, binary] of [["binary", true], ["JSON", false]]) {
  const u = await call(client("u.sock", binary).release, release(recs));
  expectCode(`a uid no client has (${name}): Unauthenticated`, u, Code.Unauthenticated);
  const big = await call(client("l.sock", binary).release, release(recs));
  expectCode(`a body over --max-body (${name}): ResourceExhausted`, big, Code.ResourceExhausted);
}
const small = await call(client("l.sock", true).explain, { request: { ori: "NY0300000" } });
check("a body under --max-body on the same service succeeds", small.res, errOf(small));

console.log(`${pass} passed, ${fail} failed`);
process.exit(fail === 0 ? 0 : 1);
