// generic.js -- a scripted JSON-protocol and REST service for the transport
// tests (tests/integration/test_awsjson.c, test_awsrest.c).
//
// Signs as ctx.signingName (server.js "--services generic:s3"), else
// config.generic.signingName, else "generic". Behaviour:
//   JSON protocol (X-Amz-Target present): answers the next scripted response
//     or echoes {"target","op","contentType","input"}.
//   REST: an in-memory object store keyed by the *decoded* raw path (no dot
//     segment removal, so keys arrive exactly as the client encoded them):
//     PUT stores (200, ETag), GET/HEAD return it or 404 NoSuchKey (S3 XML when
//     signing as s3, JSON otherwise), DELETE removes (204), POST echoes.
// Admin (under /__admin/svc/<name>):
//   POST /script  {"responses":[{"status":400,"body":{...}|"text",
//                                "headers":{...}, "chunked":false}...]}
//                 answered in order (chunked: no content-length)
//   GET  /objects                     {"keys": [decoded keys...]}
'use strict';

function create(ctx) {
  const { sendJson, s3XmlError } = ctx;
  const signingName = ctx.signingName ||
    (ctx.config.generic && ctx.config.generic.signingName) || 'generic';
  const objects = new Map(); // decoded path -> { body, contentType }
  const script = [];

  function rawPath(req) {
    const q = req.url.indexOf('?');
    return q < 0 ? req.url : req.url.slice(0, q);
  }

  function notFound(res, key) {
    if (signingName === 's3') return s3XmlError(res, 404, 'NoSuchKey', `no key ${key}`);
    return sendJson(res, 404, { message: `no key ${key}` },
                    { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/' });
  }

  function scripted(res, r) {
    const b = typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? {});
    if (r.chunked) { // no content-length: the client cannot know the size
      res.writeHead(r.status || 200, { 'content-type': 'application/json', ...(r.headers || {}) });
      res.write(b.slice(0, b.length >> 1));
      return setTimeout(() => res.end(b.slice(b.length >> 1)), 20);
    }
    res.writeHead(r.status || 200, { 'content-type': 'application/json',
                                     'content-length': Buffer.byteLength(b),
                                     ...(r.headers || {}) });
    res.end(b);
  }

  function rest(req, res, call, body) {
    let key;
    try { key = decodeURIComponent(rawPath(req)); } catch (e) {
      return sendJson(res, 400, { message: 'bad percent-encoding' },
                      { 'x-amzn-errortype': 'InvalidURI' });
    }
    call.key = key;
    const o = objects.get(key);
    if (req.method === 'PUT') {
      objects.set(key, { body, contentType: req.headers['content-type'] || '' });
      res.writeHead(200, { etag: `"${body.length}"`, 'content-length': 0 });
      return res.end();
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (!o) {
        if (req.method === 'HEAD') { res.writeHead(404, { 'content-length': 0 }); return res.end(); }
        return notFound(res, key);
      }
      res.writeHead(200, { 'content-type': o.contentType || 'application/octet-stream',
                           'content-length': o.body.length });
      return res.end(req.method === 'HEAD' ? undefined : o.body);
    }
    if (req.method === 'DELETE') {
      objects.delete(key);
      res.writeHead(204);
      return res.end();
    }
    return sendJson(res, 200, { method: req.method, key, query: call.query,
                                bytes: body.length });
  }

  return {
    name: signingName,
    signingName,
    opOf(req, url) { return `${req.method} ${url.pathname}`; },
    reset() { objects.clear(); script.length = 0; },
    handle(req, res, call, body) {
      if (script.length) return scripted(res, script.shift());
      const target = req.headers['x-amz-target'];
      if (!target) return rest(req, res, call, body);
      let input = null;
      try { input = JSON.parse(body.toString() || '{}'); } catch (e) {
        return sendJson(res, 400, { __type: 'SerializationException', message: 'bad JSON' });
      }
      return sendJson(res, 200, { target, op: target.split('.').pop(),
                                  contentType: req.headers['content-type'], input },
                      { 'content-type': req.headers['content-type'] });
    },
    admin(req, res, subpath, body) {
      if (subpath === '/script' && req.method === 'POST') {
        script.push(...(JSON.parse(body.toString() || '{}').responses || []));
        return sendJson(res, 200, { queued: script.length });
      }
      if (subpath === '/objects') return sendJson(res, 200, { keys: [...objects.keys()] });
      return sendJson(res, 404, { error: 'no such admin path' });
    },
  };
}

module.exports = { create };
