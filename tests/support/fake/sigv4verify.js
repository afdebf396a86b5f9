// sigv4verify.js -- verify an incoming request's SigV4 signature with the
// reference implementation (@smithy/signature-v4, the AWS SDK for JS signer).
//
// The fake AWS endpoints call verify() on every request, so every test that
// talks to a fake also checks the C signer against the reference. A request
// is re-signed with exactly the headers the client listed in SignedHeaders,
// its x-amz-date and its credential scope; the signatures must be equal.
'use strict';
const crypto = require('crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;\-_.]+), ?Signature=([0-9a-f]{64})$/;

// Parse "a=1&b=&a=2" into { a: ['1','2'], b: '' } with percent-decoding only
// ('+' is literal in AWS canonical queries).
function parseQuery(qs) {
  const out = {};
  if (!qs) return out;
  for (const part of qs.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return out;
}

function amzDateToDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// keys: { AKID: { secret, token? } }. Returns { ok, reason, service, region, akid }.
async function verify(req, body, keys, opts = {}) {
  const auth = req.headers['authorization'];
  if (!auth) return { ok: false, reason: 'MissingAuthenticationToken' };
  const m = AUTH_RE.exec(auth);
  if (!m) return { ok: false, reason: 'IncompleteSignature: malformed Authorization header' };
  const [, akid, scopeDate, region, service, signedList, signature] = m;
  const key = keys[akid];
  if (!key) return { ok: false, reason: 'UnrecognizedClientException: unknown access key', akid };
  const amzDate = req.headers['x-amz-date'];
  const when = amzDateToDate(amzDate);
  if (!when || amzDate.slice(0, 8) !== scopeDate)
    return { ok: false, reason: 'IncompleteSignature: x-amz-date missing or not matching the scope' };
  const token = req.headers['x-amz-security-token'];
  if (key.token && token !== key.token)
    return { ok: false, reason: 'InvalidClientTokenId: security token missing or wrong' };
  const signed = signedList.split(';');
  if (!signed.includes('host')) return { ok: false, reason: 'IncompleteSignature: host not signed' };
  if (token && !signed.includes('x-amz-security-token'))
    return { ok: false, reason: 'IncompleteSignature: x-amz-security-token not signed' };
  const sha = req.headers['x-amz-content-sha256'];
  if (service === 's3' && !sha) return { ok: false, reason: 'InvalidRequest: x-amz-content-sha256 missing' };
  if (sha && sha !== 'UNSIGNED-PAYLOAD') {
    const actual = crypto.createHash('sha256').update(body).digest('hex');
    if (actual !== sha) return { ok: false, reason: 'XAmzContentSHA256Mismatch' };
  }
  const headers = {};
  for (const h of signed) {
    if (h === 'x-amz-date') continue; // regenerated from signingDate
    const v = req.headers[h];
    if (v === undefined) return { ok: false, reason: `IncompleteSignature: signed header ${h} absent` };
    headers[h] = Array.isArray(v) ? v.join(',') : v;
  }
  const url = req.url;
  const qpos = url.indexOf('?');
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: (req.headers.host || '').split(':')[0],
    path: qpos < 0 ? url : url.slice(0, qpos),
    query: parseQuery(qpos < 0 ? '' : url.slice(qpos + 1)),
    headers,
    body: body.length ? body : undefined,
  };
  const signer = new SignatureV4({
    credentials: { accessKeyId: akid, secretAccessKey: key.secret, sessionToken: token },
    region, service, sha256: Sha256,
    uriEscapePath: service !== 's3',
    applyChecksum: false,
  });
  const out = await signer.sign(request, {
    signingDate: when, signableHeaders: new Set(signed),
    signingRegion: region, signingService: service,
  });
  const expected = /Signature=([0-9a-f]{64})/.exec(out.headers.authorization)[1];
  const expectedSigned = /SignedHeaders=([^,]+)/.exec(out.headers.authorization)[1];
  if (expectedSigned !== signedList)
    return { ok: false, reason: `SignatureDoesNotMatch: signed headers ${signedList} vs ${expectedSigned}`, service, region, akid };
  if (expected !== signature)
    return { ok: false, reason: 'SignatureDoesNotMatch', service, region, akid };
  if (opts.maxSkewMs !== undefined && Math.abs(Date.now() - when.getTime()) > opts.maxSkewMs)
    return { ok: false, reason: 'InvalidSignatureException: Signature expired', service, region, akid };
  return { ok: true, service, region, akid };
}

module.exports = { verify, parseQuery };
