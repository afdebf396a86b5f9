// smithy-sign.js -- sign one request with @smithy/signature-v4 (the AWS SDK
// for JavaScript signer) and return every stage, for the known-answer case
// generator (gen-cases.js) and the oracle test (oracle.js).
//
// A request spec: { method, path, query (raw wire string or ''), headers:
// [[name, value], ...], body (Buffer or undefined), region, service, time
// (seconds), akid, secret, token, s3, unsigned }. S3 uses the SDK's S3
// settings (uriEscapePath false, applyChecksum true).
'use strict';
const path = require('path');
const req = (m) => require(require.resolve(m, { paths: [path.join(__dirname, '..')] }));
const sv4 = req('@smithy/signature-v4');
const { Sha256 } = req('@aws-crypto/sha256-js');

// "a=1&b=&a=2" -> { a: ['1','2'], b: '' }: percent-decoding only, '+' literal.
function parseQuery(qs) {
  const out = Object.create(null);
  if (!qs) return out;
  for (const part of qs.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return Object.assign({}, out);
}

// A header sent twice is one canonical line, values joined by ',' in the
// order sent (the AWS SigV4 rule); smithy takes an object, so fold each
// value as it would and join them here.
function fold(v) {
  return v.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}
function headerObject(list) {
  const out = {};
  const first = {};
  for (const [name, value] of list) {
    const l = name.toLowerCase();
    if (l in first) out[first[l]] = fold(out[first[l]]) + ',' + fold(value);
    else { first[l] = name; out[name] = value; }
  }
  return out;
}

function toHex(u8) { return Buffer.from(u8).toString('hex'); }

async function sign(spec) {
  const headers = headerObject(spec.headers);
  if (spec.s3 && spec.unsigned) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const host = (spec.headers.find(([n]) => n.toLowerCase() === 'host') || [, 'localhost'])[1];
  const request = {
    method: spec.method, protocol: 'https:', hostname: host.trim(),
    path: spec.path, query: parseQuery(spec.query), headers,
    body: spec.body && spec.body.length ? spec.body : undefined,
  };
  const credentials = { accessKeyId: spec.akid, secretAccessKey: spec.secret,
                        sessionToken: spec.token || undefined };
  const signer = new sv4.SignatureV4({
    credentials, region: spec.region, service: spec.service, sha256: Sha256,
    uriEscapePath: !spec.s3, applyChecksum: !!spec.s3,
  });
  const signingDate = new Date(spec.time * 1000);

  // The stages, computed the way SignatureV4.signRequest computes them.
  const r = sv4.prepareRequest(request);
  const { longDate, shortDate } = signer.formatDate(signingDate);
  const scope = sv4.createScope(shortDate, spec.region, spec.service);
  r.headers[sv4.AMZ_DATE_HEADER] = longDate;
  if (credentials.sessionToken) r.headers[sv4.TOKEN_HEADER] = credentials.sessionToken;
  const payloadHash = await sv4.getPayloadHash(r, Sha256);
  if (!sv4.hasHeader(sv4.SHA256_HEADER, r.headers) && spec.s3) r.headers[sv4.SHA256_HEADER] = payloadHash;
  const canonical = sv4.getCanonicalHeaders(r);
  const canonicalRequest = signer.createCanonicalRequest(r, canonical, payloadHash);
  const stringToSign = await signer.createStringToSign(longDate, scope, canonicalRequest, sv4.ALGORITHM_IDENTIFIER);

  // The signature from the public sign() call, not from the stages above.
  const signed = await signer.sign(request, { signingDate });
  const authorization = signed.headers.authorization;
  const signature = /Signature=([0-9a-f]{64})/.exec(authorization)[1];
  const h = new Sha256(await signer.getSigningKey(credentials, spec.region, shortDate, spec.service));
  h.update(Buffer.from(stringToSign));
  if (toHex(await h.digest()) !== signature)
    throw new Error('stage replication disagrees with SignatureV4.sign()');
  return { canonicalRequest, stringToSign, signature, authorization };
}

module.exports = { sign, parseQuery };
