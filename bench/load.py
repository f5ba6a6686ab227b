#!/usr/bin/env python3
"""Exactly N requests over CONNS keep-alive connections, one thread each;
prints how many were answered 2xx. For the rows that need a count of
requests rather than a duration (wrk runs for a time).

    bench/load.py PORT N CONNS [BODY_SIZE]   POST BODY_SIZE bytes; GET without
"""
import http.client
import sys
import threading


def worker(port, count, body, ok):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
    n = 0
    for _ in range(count):
        try:
            conn.request("POST" if body is not None else "GET", "/", body, headers)
            r = conn.getresponse()
            r.read()
            n += 200 <= r.status < 300
            if r.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
    ok.append(n)


def main():
    port, n, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    body = b"x" * int(sys.argv[4]) if len(sys.argv) > 4 else None
    ok = []
    threads = [threading.Thread(target=worker, args=(port, n // conns + (i < n % conns), body, ok))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sum(ok))


if __name__ == "__main__":
    main()
