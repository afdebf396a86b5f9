// client.js -- a tiny signed Step Functions JSON 1.0 client for the local
// runner's tools and tests (signs with the reference @smithy signer).
'use strict';
const http = require('http');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');

const CREDS = { accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'AKIDEXAMPLE',
                secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

async function call(endpoint, op, input, { timeoutMs = 75000 } = {}) {
  const url = new URL(endpoint);
  const body = JSON.stringify(input || {});
  const signer = new SignatureV4({ credentials: CREDS, region: process.env.AWS_REGION || 'us-east-1',
                                   service: 'states', sha256: Sha256 });
  const req = await signer.sign({
    method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/',
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.0',
               'x-amz-target': `AWSStepFunctions.${op}` },
    body,
  });
  return new Promise((resolve, reject) => {
    const r = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: req.headers,
                             timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const obj = text ? JSON.parse(text) : {};
        if (res.statusCode !== 200) {
          const e = new Error(`${op}: ${obj.__type}: ${obj.message}`);
          e.type = String(obj.__type || '').split('#').pop();
          e.status = res.statusCode;
          return reject(e);
        }
        resolve(obj);
      });
    });
    r.on('timeout', () => r.destroy(new Error(`${op}: timeout`)));
    r.on('error', reject);
    r.end(body);
  });
}

async function waitForExecution(endpoint, executionArn, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await call(endpoint, 'DescribeExecution', { executionArn });
    if (d.status !== 'RUNNING') return d;
    if (Date.now() > deadline) throw new Error(`execution still RUNNING after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

module.exports = { call, waitForExecution };
