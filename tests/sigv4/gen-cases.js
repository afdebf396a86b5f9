#!/usr/bin/env node
// gen-cases.js -- write the expected outputs of every known-answer case.
//
//   node tests/sigv4/gen-cases.js
//
// For each tests/sigv4/cases/<case>/ with request.txt and context.json
// (the aws-c-auth test-suite layout), signs with @smithy/signature-v4 and
// writes header-canonical-request.txt, header-string-to-sign.txt,
// header-signature.txt and header-authorization.txt. Run once; the outputs
// are committed and tests/unit/test_sigv4.c compares the C signer to them.
'use strict';
const fs = require('fs');
const path = require('path');
const { sign } = require('./smithy-sign');

function parseRequest(buf) {
  const text = buf.toString('latin1');
  const nl = text.indexOf('\n');
  const [method, target] = text.slice(0, nl).split(' ');
  const q = target.indexOf('?');
  const headers = [];
  let i = nl + 1;
  while (i < text.length && text[i] !== '\n') {
    const e = text.indexOf('\n', i);
    const line = text.slice(i, e < 0 ? text.length : e);
    const c = line.indexOf(':');
    headers.push([line.slice(0, c), Buffer.from(line.slice(c + 1), 'latin1').toString('utf8')]);
    i = e < 0 ? text.length : e + 1;
  }
  const body = i < text.length ? buf.subarray(i + 1) : undefined;
  return { method, path: q < 0 ? target : target.slice(0, q),
           query: q < 0 ? '' : target.slice(q + 1), headers, body };
}

async function main() {
  const dir = path.join(__dirname, 'cases');
  for (const name of fs.readdirSync(dir).sort()) {
    const d = path.join(dir, name);
    if (!fs.statSync(d).isDirectory()) continue;
    const ctx = JSON.parse(fs.readFileSync(path.join(d, 'context.json'), 'utf8'));
    const r = parseRequest(fs.readFileSync(path.join(d, 'request.txt')));
    const out = await sign({
      ...r, region: ctx.region, service: ctx.service,
      time: Date.parse(ctx.timestamp) / 1000,
      akid: ctx.credentials.access_key_id, secret: ctx.credentials.secret_access_key,
      token: ctx.credentials.token, s3: !!ctx.s3_rules, unsigned: !!ctx.unsigned_payload,
    });
    fs.writeFileSync(path.join(d, 'header-canonical-request.txt'), out.canonicalRequest);
    fs.writeFileSync(path.join(d, 'header-string-to-sign.txt'), out.stringToSign);
    fs.writeFileSync(path.join(d, 'header-signature.txt'), out.signature);
    fs.writeFileSync(path.join(d, 'header-authorization.txt'), out.authorization);
    console.log(`${name}: ${out.signature}`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
