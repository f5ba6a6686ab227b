import json


def handle(event, context):
    """Answers one HTTP request.

    event: method, path, query (dict), headers (case-insensitive), body (bytes).
    Return a dict with statusCode, headers and body (str, bytes, or a dict or
    list sent as JSON), or just the body.
    """
    if event.method not in ("GET", "POST"):
        return {
            "statusCode": 405,
            "headers": {"Allow": "GET, POST"},
            "body": "Method not allowed\n",
        }

    name = event.query.get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({
            "message": f"Hello, {name}!",
            "method": event.method,
            "path": event.path,
            "user_agent": event.headers.get("User-Agent", ""),
            "body": event.body.decode("utf-8", "replace"),
        }),
    }
