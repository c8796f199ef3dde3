"""A foreign ZeroMQ peer for the tests: Debian's pyzmq (a different libzmq binding than
zeromq.js), run with /usr/bin/python3. Keys come from the project's certificate files
(lib/keys.ts writes the zcert format that zmq.auth.load_certificate reads).

usage:
  zmq_foreign.py sub ENDPOINT SECONDS [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      subscribes to everything; prints {"received": N, "first": "..."}
  zmq_foreign.py flood ENDPOINT COUNT [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      sends COUNT random subscriptions, stays connected 1 s; prints {"sent": N}

With no certificate arguments the peer speaks plain TCP (no CURVE). One JSON line on
stdout; exit code 0 unless the arguments are wrong.
"""
import json
import os
import sys
import time

import zmq
import zmq.auth


def secure(sock, client_secret, server_public):
    if client_secret is None:
        return
    public, secret = zmq.auth.load_certificate(client_secret)
    server, _ = zmq.auth.load_certificate(server_public)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = server


def main(argv):
    mode, endpoint, amount = argv[1], argv[2], float(argv[3])
    certs = argv[4:6] if len(argv) >= 6 else [None, None]
    ctx = zmq.Context.instance()
    if mode == "sub":
        s = ctx.socket(zmq.SUB)
        s.linger = 0
        secure(s, *certs)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(endpoint)
        got, first = 0, None
        end = time.time() + amount
        while time.time() < end:
            if s.poll(50):
                m = s.recv()
                got += 1
                if first is None:
                    first = m[:200].decode("utf-8", "replace")
        print(json.dumps({"received": got, "first": first}), flush=True)
    elif mode == "flood":
        s = ctx.socket(zmq.XSUB)
        s.linger = 0
        s.sndhwm = 0
        secure(s, *certs)
        s.connect(endpoint)
        n = int(amount)
        for _ in range(n):
            s.send(b"\x01" + os.urandom(8))
        time.sleep(1)
        print(json.dumps({"sent": n}), flush=True)
    else:
        print(json.dumps({"error": f"unknown mode {mode}"}), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
