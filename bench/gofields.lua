-- wrk script: the two fields the watchdog adds to each request it forwards,
-- as Go's HTTP client does when the request has none: sent to a relay, they
-- give the upstream the same request as through the watchdog.
wrk.headers["User-Agent"] = "Go-http-client/1.1"
wrk.headers["Accept-Encoding"] = "gzip"
