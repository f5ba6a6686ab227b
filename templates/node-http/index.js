'use strict'

// Serves function/handler.js to fwatchdog in http mode. The watchdog starts
// this once and proxies every request to upstream_url; the server listens on
// that URL's address and port (127.0.0.1:3000 by default), so upstream_url is
// the only setting to change. Node's built-in http module only.
const http = require('http')
const handler = require('./function/handler')

class Context {
  constructor () {
    this.statusCode = 200
    this.headerValues = {}
    this.result = undefined
  }

  status (code) {
    this.statusCode = code
    return this
  }

  headers (values) {
    Object.assign(this.headerValues, values)
    return this
  }

  succeed (result) {
    this.result = result
    return this
  }

  fail (error) {
    console.error(error)
    this.statusCode = 500
    this.result = 'Internal server error\n'
    return this
  }
}

function readBody (req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseBody (req, text) {
  const type = req.headers['content-type'] || ''
  return type.startsWith('application/json') && text ? JSON.parse(text) : text
}

function send (req, res, context) {
  let body = context.result === undefined ? '' : context.result
  const headers = { ...context.headerValues }
  if (typeof body === 'object' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body)
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json'
    }
  }
  headers['Content-Length'] = Buffer.byteLength(body)
  res.writeHead(context.statusCode, headers)
  res.end(req.method === 'HEAD' ? undefined : body)
}

async function toEvent (req) {
  const url = new URL(req.url, 'http://localhost')
  return {
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: req.headers,
    body: parseBody(req, await readBody(req))
  }
}

const server = http.createServer(async (req, res) => {
  const context = new Context()
  let event
  try {
    event = await toEvent(req)
  } catch (error) {
    context.status(400).succeed(`Bad request: ${error.message}\n`)
    return send(req, res, context)
  }
  try {
    await handler(event, context)
  } catch (error) {
    context.fail(error)
  }
  send(req, res, context)
})

const upstream = new URL(process.env.http_upstream_url ||
  process.env.upstream_url || 'http://127.0.0.1:3000')
const port = Number(upstream.port) || 3000
const host = upstream.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
server.listen(port, host, () => console.error(`node-http listening on ${host}:${port}`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
