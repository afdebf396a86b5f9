// s3.js -- fake S3 (REST, path-style /bucket/key) for server.js.
//
// Operations: PutObject, GetObject (with a single Range), HeadObject, DeleteObject, ListObjectsV2
// (prefix, delimiter, continuation tokens, max-keys), CreateMultipartUpload,
// UploadPart, CompleteMultipartUpload (checks part numbers and ETags),
// AbortMultipartUpload, ListMultipartUploads. Objects live in memory; with
// config {"s3": {"dir": "/path"}} every stored object is also written to
// dir/bucket/key (and removed on delete), so a test or demo can inspect them.
// config {"s3": {"buckets": ["b"]}} makes other buckets NoSuchBucket (by
// default any bucket exists); {"s3": {"maxKeys": 2}} caps a listing page.
// SSE headers are stored with the object. Faults come from server.js.
//
// Admin (under /__admin/svc/s3):
//   GET /objects[?bucket=b&prefix=p]  [{bucket,key,size,etag,sse,kmsKeyId,parts}]
//   GET /object?bucket=b&key=k        the object's bytes (404 if none)
//   GET /uploads                      in-progress multipart uploads
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

function xmlEscape(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')
    .replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function xmlUnescape(s) {
  return s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

function md5(b) { return crypto.createHash('md5').update(b).digest('hex'); }

function create(ctx) {
  const { sendJson, s3XmlError } = ctx;
  const cfg = ctx.config.s3 || {};
  let objects = new Map();  // "bucket\0key" -> {bucket,key,body,etag,sse,kmsKeyId,parts}
  let uploads = new Map();  // uploadId -> {bucket,key,parts: Map(n -> {body,etag}),sse,kmsKeyId}
  let nextUpload = 1;

  function split(url) {
    const p = url.pathname.replace(/^\//, '');
    const i = p.indexOf('/');
    const bucket = decodeURIComponent(i < 0 ? p : p.slice(0, i));
    const key = i < 0 ? '' : decodeURIComponent(p.slice(i + 1));
    return { bucket, key };
  }

  function opOf(req, url) {
    const { key } = split(url);
    const q = url.searchParams;
    const m = req.method;
    if (!key) {
      if (m === 'GET' && q.has('uploads')) return 'ListMultipartUploads';
      if (m === 'GET') return 'ListObjectsV2';
      if (m === 'POST' && q.has('delete')) return 'DeleteObjects';
      return `${m}Bucket`;
    }
    if (m === 'PUT') return q.has('uploadId') ? 'UploadPart' : 'PutObject';
    if (m === 'GET') return 'GetObject';
    if (m === 'HEAD') return 'HeadObject';
    if (m === 'DELETE') return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    if (m === 'POST' && q.has('uploads')) return 'CreateMultipartUpload';
    if (m === 'POST' && q.has('uploadId')) return 'CompleteMultipartUpload';
    return `${m}Object`;
  }

  function sendXml(res, status, xml, headers = {}) {
    const b = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
    res.writeHead(status, { 'content-type': 'application/xml',
                            'content-length': b.length, ...headers });
    res.end(b);
  }

  function diskPath(bucket, key) {
    if (!cfg.dir) return null;
    const p = path.resolve(cfg.dir, bucket, key);
    if (!p.startsWith(path.resolve(cfg.dir) + path.sep)) return null;
    return p;
  }

  function store(bucket, key, body, sse, kmsKeyId, parts) {
    const etag = parts ? `"${md5(Buffer.concat(parts.map((p) => Buffer.from(md5(p.body), 'hex'))))}-${parts.length}"`
                       : `"${md5(body)}"`;
    objects.set(`${bucket}\0${key}`, { bucket, key, body, etag, sse, kmsKeyId,
                                       parts: parts ? parts.length : 0 });
    const dp = diskPath(bucket, key);
    if (dp) {
      fs.mkdirSync(path.dirname(dp), { recursive: true });
      fs.writeFileSync(dp, body);
    }
    return etag;
  }

  function remove(bucket, key) {
    objects.delete(`${bucket}\0${key}`);
    const dp = diskPath(bucket, key);
    if (dp) fs.rmSync(dp, { force: true });
  }

  function sseOf(req) {
    return { sse: req.headers['x-amz-server-side-encryption'] || null,
             kmsKeyId: req.headers['x-amz-server-side-encryption-aws-kms-key-id'] || null };
  }

  function sseHeaders(o) {
    const h = {};
    if (o.sse) h['x-amz-server-side-encryption'] = o.sse;
    if (o.kmsKeyId) h['x-amz-server-side-encryption-aws-kms-key-id'] = o.kmsKeyId;
    return h;
  }

  function listObjects(res, bucket, q) {
    const prefix = q.get('prefix') || '';
    const delim = q.get('delimiter') || '';
    const max = Math.min(Number(q.get('max-keys') || 1000), cfg.maxKeys || 1000);
    const after = q.get('continuation-token') ?
      Buffer.from(q.get('continuation-token'), 'base64').toString('utf8') :
      (q.get('start-after') || '');
    const keys = [...objects.values()].filter((o) => o.bucket === bucket &&
      o.key.startsWith(prefix) && o.key > after).map((o) => o.key).sort();
    const contents = [];
    const prefixes = new Set();
    let last = null;
    let truncated = false;
    for (const k of keys) {
      if (contents.length + prefixes.size >= max) { truncated = true; break; }
      const rest = k.slice(prefix.length);
      const d = delim ? rest.indexOf(delim) : -1;
      if (d >= 0) prefixes.add(prefix + rest.slice(0, d + delim.length));
      else contents.push(objects.get(`${bucket}\0${k}`));
      last = k;
    }
    let xml = `<ListBucketResult><Name>${xmlEscape(bucket)}</Name>` +
      `<Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${contents.length + prefixes.size}</KeyCount>` +
      `<MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>`;
    if (truncated)
      xml += `<NextContinuationToken>${Buffer.from(last).toString('base64')}</NextContinuationToken>`;
    for (const o of contents)
      xml += `<Contents><Key>${xmlEscape(o.key)}</Key><Size>${o.body.length}</Size>` +
             `<ETag>${xmlEscape(o.etag)}</ETag><StorageClass>STANDARD</StorageClass></Contents>`;
    for (const p of prefixes)
      xml += `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`;
    return sendXml(res, 200, xml + '</ListBucketResult>');
  }

  function complete(res, bucket, key, id, body) {
    const up = uploads.get(id);
    if (!up || up.bucket !== bucket || up.key !== key)
      return s3XmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
    const text = body.toString('utf8');
    const re = /<Part>\s*<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]*)<\/ETag>\s*<\/Part>/g;
    const parts = [];
    let m;
    let prev = 0;
    while ((m = re.exec(text)) !== null) {
      const n = Number(m[1]);
      const p = up.parts.get(n);
      if (n <= prev) return s3XmlError(res, 400, 'InvalidPartOrder', 'parts out of order');
      if (!p || p.etag !== xmlUnescape(m[2]))
        return s3XmlError(res, 400, 'InvalidPart', `part ${n} missing or ETag mismatch`);
      parts.push(p);
      prev = n;
    }
    if (parts.length === 0)
      return s3XmlError(res, 400, 'MalformedXML', 'no parts');
    for (let i = 0; i < parts.length - 1; i++)
      if (parts[i].body.length < (cfg.minPartSize ?? 0))
        return s3XmlError(res, 400, 'EntityTooSmall', 'part too small');
    const etag = store(bucket, key, Buffer.concat(parts.map((p) => p.body)),
                       up.sse, up.kmsKeyId, parts);
    uploads.delete(id);
    return sendXml(res, 200, `<CompleteMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket>` +
      `<Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag></CompleteMultipartUploadResult>`);
  }

  function handle(req, res, call, body, url) {
    const { bucket, key } = split(url);
    const q = url.searchParams;
    if (!bucket) return s3XmlError(res, 400, 'InvalidRequest', 'no bucket');
    if (cfg.buckets && !cfg.buckets.includes(bucket))
      return s3XmlError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    const o = objects.get(`${bucket}\0${key}`);
    switch (call.op) {
    case 'ListObjectsV2':
      if (q.get('list-type') !== '2')
        return s3XmlError(res, 400, 'InvalidArgument', 'only ListObjectsV2');
      return listObjects(res, bucket, q);
    case 'ListMultipartUploads': {
      let xml = `<ListMultipartUploadsResult><Bucket>${xmlEscape(bucket)}</Bucket>`;
      for (const [id, u] of uploads)
        if (u.bucket === bucket && u.key.startsWith(q.get('prefix') || ''))
          xml += `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${id}</UploadId></Upload>`;
      return sendXml(res, 200, xml + '<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>');
    }
    case 'PutObject': {
      const s = sseOf(req);
      const etag = store(bucket, key, body, s.sse, s.kmsKeyId, null);
      res.writeHead(200, { etag, 'content-length': 0, ...sseHeaders(s) });
      return res.end();
    }
    case 'GetObject':
    case 'HeadObject': {
      if (!o) return s3XmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
      if (m && call.op === 'GetObject') {
        const first = Number(m[1]);
        const last = Math.min(m[2] === '' ? o.body.length - 1 : Number(m[2]), o.body.length - 1);
        if (first >= o.body.length)
          return s3XmlError(res, 416, 'InvalidRange', 'The requested range is not satisfiable');
        const part = o.body.subarray(first, last + 1);
        res.writeHead(206, { etag: o.etag, 'content-type': 'application/octet-stream',
                             'content-range': `bytes ${first}-${last}/${o.body.length}`,
                             'content-length': part.length, ...sseHeaders(o) });
        return res.end(part);
      }
      res.writeHead(200, { etag: o.etag, 'content-type': 'application/octet-stream',
                           'content-length': o.body.length, ...sseHeaders(o) });
      return res.end(call.op === 'GetObject' ? o.body : undefined);
    }
    case 'DeleteObject':
      remove(bucket, key);
      res.writeHead(204);
      return res.end();
    case 'CreateMultipartUpload': {
      const id = `upload-${nextUpload++}-${crypto.randomBytes(6).toString('hex')}`;
      uploads.set(id, { bucket, key, parts: new Map(), ...sseOf(req) });
      return sendXml(res, 200, `<InitiateMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket>` +
        `<Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    case 'UploadPart': {
      const up = uploads.get(q.get('uploadId'));
      const n = Number(q.get('partNumber'));
      if (!up || up.key !== key) return s3XmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
      if (!(n >= 1 && n <= 10000)) return s3XmlError(res, 400, 'InvalidArgument', 'bad partNumber');
      const etag = `"${md5(body)}"`;
      up.parts.set(n, { body, etag });
      res.writeHead(200, { etag, 'content-length': 0 });
      return res.end();
    }
    case 'CompleteMultipartUpload':
      return complete(res, bucket, key, q.get('uploadId'), body);
    case 'AbortMultipartUpload':
      if (!uploads.delete(q.get('uploadId')))
        return s3XmlError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.');
      res.writeHead(204);
      return res.end();
    default:
      return s3XmlError(res, 501, 'NotImplemented', `fake has no ${call.op}`);
    }
  }

  function admin(req, res, sub, body, url) {
    const q = url.searchParams;
    if (sub === '/objects') {
      const b = q.get('bucket');
      const p = q.get('prefix') || '';
      return sendJson(res, 200, [...objects.values()]
        .filter((o) => (!b || o.bucket === b) && o.key.startsWith(p))
        .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
        .map((o) => ({ bucket: o.bucket, key: o.key, size: o.body.length, etag: o.etag,
                       sse: o.sse, kmsKeyId: o.kmsKeyId, parts: o.parts })));
    }
    if (sub === '/object') {
      const o = objects.get(`${q.get('bucket')}\0${q.get('key')}`);
      if (!o) return sendJson(res, 404, { error: 'no such object' });
      res.writeHead(200, { 'content-type': 'application/octet-stream',
                           'content-length': o.body.length });
      return res.end(o.body);
    }
    if (sub === '/uploads')
      return sendJson(res, 200, [...uploads].map(([id, u]) => ({ uploadId: id, bucket: u.bucket,
        key: u.key, parts: [...u.parts.keys()] })));
    return sendJson(res, 404, { error: 'no such s3 admin path' });
  }

  function reset() {
    objects = new Map();
    uploads = new Map();
  }

  return { name: 's3', signingName: 's3', handle, admin, reset, opOf };
}

module.exports = { create };
