// serve.js -- the lifetime every fake server shares (tests/support/fake,
// tests/sfn-local, tests/bench).
//
// listenAndServe(server, { port, maxSeconds, watchStdin }) listens on
// 127.0.0.1 only (port 0: any free one), prints {"port": N} as its first
// line of stdout (what fakesrv.c and the Node harnesses wait for), and ends
// the process on SIGTERM/SIGINT, after maxSeconds, and, with watchStdin,
// when stdin closes (the parent died), so no fake outlives its test.
'use strict';

function listenAndServe(server, { port = 0, maxSeconds, watchStdin = false }) {
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
  });
  const stop = () => process.exit(0);
  setTimeout(stop, maxSeconds * 1000).unref();
  if (watchStdin) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

module.exports = { listenAndServe };
