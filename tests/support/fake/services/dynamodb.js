// dynamodb.js -- fake DynamoDB (JSON 1.0) for server.js: GetItem and PutItem.
//
// Tables spring into being when an item is put through the admin API or
// PutItem. GetItem on an unknown table is ResourceNotFoundException, as in
// DynamoDB. Items are kept in attribute-value form and matched on every
// attribute of the request's Key. The server records every call (the
// request body shows ConsistentRead).
//
// Admin (under /__admin/svc/dynamodb):
//   POST /items   {"TableName": "T", "Item": {...attribute values...}}
//   POST /tables  {"TableName": "T"}            an empty table
//   GET  /items?table=T                           the table's items
'use strict';

function create(ctx) {
  const { sendJson, awsJsonError } = ctx;
  let tables = new Map(); // name -> [item]

  const json10 = { 'content-type': 'application/x-amz-json-1.0' };

  function table(name, create) {
    if (!tables.has(name) && create) tables.set(name, []);
    return tables.get(name);
  }

  function keyMatches(item, key) {
    return Object.keys(key).every(
      (k) => item[k] && JSON.stringify(item[k]) === JSON.stringify(key[k]));
  }

  function put(name, item, keyNames) {
    const t = table(name, true);
    const key = {};
    for (const k of keyNames) if (item[k]) key[k] = item[k];
    const i = t.findIndex((it) => keyMatches(it, key));
    if (i >= 0) t[i] = item; else t.push(item);
  }

  const KEYS = ['tenant_id', 'service'];

  function handle(req, res, call, body) {
    let input;
    try { input = JSON.parse(body.toString() || '{}'); } catch (e) {
      return awsJsonError(res, 400, 'SerializationException', 'bad JSON');
    }
    if (call.op === 'GetItem') {
      if (!input.TableName || !input.Key)
        return awsJsonError(res, 400, 'ValidationException', 'TableName and Key are required');
      const t = table(input.TableName, false);
      if (!t)
        return awsJsonError(res, 400, 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException',
                            'Requested resource not found');
      const item = t.find((it) => keyMatches(it, input.Key) &&
        Object.keys(it).filter((k) => KEYS.includes(k)).length === Object.keys(input.Key).length);
      return sendJson(res, 200, item ? { Item: item } : {}, json10);
    }
    if (call.op === 'PutItem') {
      put(input.TableName, input.Item || {}, KEYS);
      return sendJson(res, 200, {}, json10);
    }
    return awsJsonError(res, 400, 'UnknownOperationException', `fake has no ${call.op}`);
  }

  function admin(req, res, sub, body, url) {
    const input = body.length ? JSON.parse(body.toString()) : {};
    if (sub === '/items' && req.method === 'POST') {
      put(input.TableName, input.Item, KEYS);
      return sendJson(res, 200, {});
    }
    if (sub === '/tables' && req.method === 'POST') {
      table(input.TableName, true);
      return sendJson(res, 200, {});
    }
    if (sub === '/items' && req.method === 'GET')
      return sendJson(res, 200, table(url.searchParams.get('table'), false) || []);
    return sendJson(res, 404, { error: 'no such dynamodb admin path' });
  }

  return { name: 'dynamodb', signingName: 'dynamodb', handle, admin,
           reset() { tables = new Map(); } };
}

module.exports = { create };
