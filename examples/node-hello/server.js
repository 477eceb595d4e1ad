'use strict';
// node-hello: greets on GET /?name=..., answers GET /healthz, nothing else.
// Listens on 127.0.0.1:$PORT (8080 when PORT is unset).

const http = require('http');
const escapeHtml = require('escape-html');

const GREETING = process.env.GREETING || 'Hello';
const MAX_NAME = 100;

function reply(res, status, type, body) {
  res.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return reply(res, 405, 'text/plain', 'only GET and HEAD\n');
  }
  if (url.pathname === '/healthz') {
    return reply(res, 200, 'text/plain', 'ok\n');
  }
  if (url.pathname === '/') {
    const name = (url.searchParams.get('name') || 'world').slice(0, MAX_NAME);
    const text = `${GREETING}, ${name}!`;
    return reply(res, 200, 'text/html',
      '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>node-hello</title></head>\n' +
      `<body><h1>${escapeHtml(text)}</h1></body></html>\n`);
  }
  return reply(res, 404, 'text/plain', `no page at ${url.pathname}\n`);
}

function createServer() {
  return http.createServer(handle);
}

module.exports = { createServer, handle };

if (require.main === module) {
  const port = Number(process.env.PORT || 8080);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`node-hello: PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
    process.exit(2);
  }
  const server = createServer();
  server.listen(port, '127.0.0.1', () => {
    console.log(`node-hello: listening on http://127.0.0.1:${port}`);
  });
  // Stop accepting on SIGTERM and leave once open requests are done.
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => server.close(() => process.exit(0)));
  }
}
