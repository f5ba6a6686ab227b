#!/usr/bin/python3
"""One chunked request body of N chunks of SIZE bytes each, sent at once to
a watchdog on 127.0.0.1:PORT, ROUNDS times; prints the best wall time.

    python3 bench/chunked.py PORT N SIZE [ROUNDS]

For what chunk framing costs per chunk: run the watchdog under callgrind
(streaming mode, fprocess="wc -c", max_request_body=0) with ROUNDS=1 and
compare the instructions it collected. Standard library only."""
import socket
import sys
import time


def main():
    port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    piece = b"%x\r\n" % size + b"a" * size + b"\r\n"
    request = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               + piece * n + b"0\r\n\r\n")
    best, answer = None, b""
    for _ in range(rounds):
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            t = time.monotonic()
            s.sendall(request)
            answer = b""
            while True:
                data = s.recv(1 << 16)
                if not data:
                    break
                answer += data
            took = time.monotonic() - t
        best = took if best is None else min(best, took)
    status = answer.split(b"\r\n", 1)[0].decode("latin-1")
    print("%d chunks of %d bytes: best of %d %.3f s (%s)" % (n, size, rounds, best, status))
    return 0 if status.startswith("HTTP/1.1 200") else 1


if __name__ == "__main__":
    sys.exit(main())
