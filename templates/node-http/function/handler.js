'use strict'

// event: method, path, query, headers (lower-case names), body (a string, or
// the parsed value for application/json). Set the answer through context:
// status(), headers(), then succeed(body) or fail(error).
module.exports = async (event, context) => {
  if (event.method !== 'GET' && event.method !== 'POST') {
    return context
      .status(405)
      .headers({ Allow: 'GET, POST' })
      .succeed('Method not allowed\n')
  }

  return context.status(200).succeed({
    message: `Hello, ${event.query.name || 'world'}!`,
    method: event.method,
    path: event.path,
    userAgent: event.headers['user-agent'] || '',
    body: event.body
  })
}
