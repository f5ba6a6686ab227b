-- wrk script: POST a body of BODY_SIZE bytes (default 1024) on every request.
wrk.method = "POST"
wrk.body = string.rep("x", tonumber(os.getenv("BODY_SIZE") or "1024"))
wrk.headers["Content-Type"] = "application/octet-stream"
