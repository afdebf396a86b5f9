// lambda.js -- fake Lambda Invoke for server.js:
// POST /2015-03-31/functions/{name}/invocations.
//
// A function exists once it is scripted through the admin API. Each Invoke
// takes the next scripted answer (the last one repeats). An answer gives the
// payload the function returned and, optionally, the X-Amz-Function-Error it
// raised. Event invocations answer 202 with no payload. An unknown function
// is 404 ResourceNotFoundException, as in Lambda. Calls are recorded by the
// server; the function name and invocation type are in each call's path and
// headers.
//
// Admin (under /__admin/svc/lambda):
//   POST /functions/{name} {"responses": [{"payload": {...}|"text",
//                           "functionError": "Unhandled", "status": 200}]}
//   GET  /functions                       names and invocation counts
'use strict';

function create(ctx) {
  const { sendJson } = ctx;
  let functions = new Map(); // name -> { responses, invocations }

  function lambdaError(res, status, type, message) {
    sendJson(res, status, { Type: 'User', message },
             { 'x-amzn-errortype': type });
  }

  function opOf(req, url) {
    return /\/2015-03-31\/functions\/[^/]+\/invocations$/.test(url.pathname)
      ? 'Invoke' : `${req.method} ${url.pathname}`;
  }

  function handle(req, res, call, body, url) {
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (!m || req.method !== 'POST')
      return lambdaError(res, 404, 'UnknownOperationException', 'no such route');
    const name = decodeURIComponent(m[1]);
    call.op = 'Invoke';
    call.functionName = name;
    const fn = functions.get(name);
    if (!fn)
      return lambdaError(res, 404, 'ResourceNotFoundException',
                         `Function not found: arn:aws:lambda:us-east-1:123456789012:function:${name}`);
    try { JSON.parse(body.toString() || 'null'); } catch (e) {
      return lambdaError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }
    fn.invocations++;
    const type = req.headers['x-amz-invocation-type'] || 'RequestResponse';
    const r = fn.responses.length > 1 ? fn.responses.shift() : fn.responses[0] || {};
    if (type === 'Event') {
      res.writeHead(202, { 'content-length': 0 });
      return res.end();
    }
    const payload = r.payload === undefined ? null : r.payload;
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const headers = { 'content-type': 'application/json',
                      'content-length': Buffer.byteLength(text),
                      'x-amz-executed-version': '$LATEST' };
    if (r.functionError) headers['x-amz-function-error'] = r.functionError;
    res.writeHead(r.status || 200, headers);
    return res.end(text);
  }

  function admin(req, res, sub, body) {
    const m = /^\/functions\/([^/]+)$/.exec(sub);
    if (m && req.method === 'POST') {
      const input = body.length ? JSON.parse(body.toString()) : {};
      functions.set(decodeURIComponent(m[1]),
                    { responses: input.responses || [{ payload: { statusCode: 200 } }],
                      invocations: 0 });
      return sendJson(res, 200, {});
    }
    if (sub === '/functions' && req.method === 'GET')
      return sendJson(res, 200, [...functions].map(([n, f]) => ({ name: n, invocations: f.invocations })));
    return sendJson(res, 404, { error: 'no such lambda admin path' });
  }

  return { name: 'lambda', signingName: 'lambda', handle, admin, opOf,
           reset() { functions = new Map(); } };
}

module.exports = { create };
