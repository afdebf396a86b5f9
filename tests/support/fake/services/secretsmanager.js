// secretsmanager.js -- fake Secrets Manager (JSON 1.1) for server.js:
// GetSecretValue (and PutSecretValue, for rotation by API).
//
// A secret is a name and a SecretString; putting it again makes a new
// version (as rotation does). An unknown name is ResourceNotFoundException.
//
// Admin (under /__admin/svc/secretsmanager):
//   POST /secrets {"name": "t/dev", "value": {...} | "text"}  create or rotate
//   GET  /secrets                                        names and versions
'use strict';
const crypto = require('crypto');

function create(ctx) {
  const { sendJson, awsJsonError } = ctx;
  let secrets = new Map(); // name -> { value, version }
  const json11 = { 'content-type': 'application/x-amz-json-1.1' };

  function put(name, value) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    secrets.set(name, { value: text, version: crypto.randomUUID() });
    return secrets.get(name).version;
  }

  function notFound(res) {
    return awsJsonError(res, 400, 'ResourceNotFoundException',
                        "Secrets Manager can't find the specified secret.");
  }

  function handle(req, res, call, body) {
    let input;
    try { input = JSON.parse(body.toString() || '{}'); } catch (e) {
      return awsJsonError(res, 400, 'SerializationException', 'bad JSON');
    }
    if (call.op === 'GetSecretValue') {
      const s = secrets.get(input.SecretId);
      if (!s) return notFound(res);
      return sendJson(res, 200, {
        ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${input.SecretId}-AbCdEf`,
        Name: input.SecretId, SecretString: s.value, VersionId: s.version,
        VersionStages: ['AWSCURRENT'], CreatedDate: Date.now() / 1000,
      }, json11);
    }
    if (call.op === 'PutSecretValue') {
      if (!secrets.has(input.SecretId)) return notFound(res);
      const v = put(input.SecretId, input.SecretString || '');
      return sendJson(res, 200, { Name: input.SecretId, VersionId: v }, json11);
    }
    return awsJsonError(res, 400, 'InvalidAction', `fake has no ${call.op}`);
  }

  function admin(req, res, sub, body) {
    if (sub === '/secrets' && req.method === 'POST') {
      const input = JSON.parse(body.toString());
      return sendJson(res, 200, { version: put(input.name, input.value) });
    }
    if (sub === '/secrets' && req.method === 'GET')
      return sendJson(res, 200, [...secrets].map(([n, s]) => ({ name: n, version: s.version })));
    return sendJson(res, 404, { error: 'no such secretsmanager admin path' });
  }

  return { name: 'secretsmanager', signingName: 'secretsmanager', handle, admin,
           reset() { secrets = new Map(); } };
}

module.exports = { create };
