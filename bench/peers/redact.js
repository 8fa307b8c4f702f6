// redact.js SPEC IN OUT - the node + fast-redact peer: streams JSON Lines from
// IN to OUT, one record a line: JSON.parse, the pseudonymized fields replaced
// by their SHA-256 (hex), the redacted paths removed by fast-redact
// (remove: true, JSON.stringify). Reads and writes in 1 MiB chunks and
// honours back-pressure. SPEC is bench/peers/police.json.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const fastRedact = require('fast-redact');

const [specPath, inPath, outPath] = process.argv.slice(2);
if (!specPath || !inPath || !outPath) {
  process.stderr.write('usage: node redact.js SPEC IN OUT\n');
  process.exit(64);
}
const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
const redact = fastRedact({ paths: spec.redact, remove: true });
const pseudo = spec.pseudonymize;
if (pseudo.some((p) => p.includes('.'))) throw new Error('top-level pseudonymized fields only');

const sha256 = (v) => crypto.createHash('sha256').update(v).digest('hex');

const input = fs.createReadStream(inPath, { highWaterMark: 1 << 20 });
const output = fs.createWriteStream(outPath, { highWaterMark: 1 << 20 });
let rest = '';
let records = 0;

function transform(line) {
  const o = JSON.parse(line);
  for (const k of pseudo) if (typeof o[k] === 'string') o[k] = sha256(o[k]);
  return redact(o);
}

input.setEncoding('utf8');
input.on('data', (chunk) => {
  const lines = (rest + chunk).split('\n');
  rest = lines.pop();
  let out = '';
  for (const line of lines) {
    if (line.length === 0) continue;
    out += transform(line) + '\n';
    records++;
  }
  if (!output.write(out)) {
    input.pause();
    output.once('drain', () => input.resume());
  }
});
input.on('end', () => {
  if (rest.length) {
    output.write(transform(rest) + '\n');
    records++;
  }
  output.end(() => process.stderr.write(`redact.js: ${records} records\n`));
});
input.on('error', (e) => { process.stderr.write(`redact.js: ${e.message}\n`); process.exit(74); });
output.on('error', (e) => { process.stderr.write(`redact.js: ${e.message}\n`); process.exit(74); });
