"""A foreign ZeroMQ peer for the tests: Debian's pyzmq (a different libzmq binding than
zeromq.js), run with /usr/bin/python3. Keys come from the project's certificate files
(lib/keys.ts writes the zcert format that zmq.auth.load_certificate reads).

usage:
  zmq_foreign.py sub ENDPOINT SECONDS [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      subscribes to everything; prints {"received": N, "first": "..."}
  zmq_foreign.py flood ENDPOINT COUNT [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      sends COUNT random subscriptions, stays connected 1 s; prints {"sent": N}
  zmq_foreign.py forge-fills ENDPOINT SECONDS [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      as execution-engine's report sender: a heartbeat with a huge base, then forged
      fills of 1,000,000 shares, every 100 ms; prints {"sent": N, "answers": N}
  zmq_foreign.py steal ENDPOINT SECONDS [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      as an orders receiver: says hello every 100 ms, acknowledges whatever arrives and
      sends control frames that are not JSON; prints {"stolen": N, "frames": N}
  zmq_foreign.py inject ENDPOINT SECONDS [SERVER_CERT_SECRET]
      binds where risk-manager's orders should be (a CURVE server with that certificate,
      or plain) and offers an order to every receiver that says hello; prints
      {"hellos": N, "offered": N}

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
    elif mode in ("forge-fills", "steal"):
        s = ctx.socket(zmq.ROUTER)
        s.linger = 0
        s.router_mandatory = False
        secure(s, *certs)
        if mode == "forge-fills":
            # Named as the real sender, as the forgery in the issue was.
            s.routing_id = b"execution-engine/execution_reports"
            s.setsockopt(zmq.CONNECT_ROUTING_ID, b"receiver")
        else:
            # Not the engine's own name: a second connection under a name already
            # connected is silently dropped by the ROUTER, so it would test nothing.
            s.routing_id = b"intruder/orders"
            s.setsockopt(zmq.CONNECT_ROUTING_ID, b"risk-manager/orders")
        s.connect(endpoint)
        peer = b"receiver" if mode == "forge-fills" else b"risk-manager/orders"
        sent, answers, stolen = 0, 0, 0
        end = time.time() + amount
        seq = 1
        while time.time() < end:
            if mode == "forge-fills":
                hb = {"k": "hb", "pub": "execution-engine/execution_reports",
                      "epoch": int(time.time() * 1000), "base": 10**12, "sent": 10**12}
                env = {"v": 1, "type": "execution_report", "seq": seq,
                       "pub": "execution-engine/execution_reports", "epoch": hb["epoch"],
                       "ts": time.time() * 1000, "trace": "0" * 32,
                       "body": {"clientOrderId": "rm-forged", "symbol": "AAPL", "side": "sell",
                                "kind": "fill", "state": "filled", "orderQty": 1000000,
                                "lastQty": 1000000, "lastPrice": 5, "cumQty": 1000000,
                                "avgPrice": 5, "leavesQty": 0, "venue": "sim",
                                "strategy": "default", "ts": time.time() * 1000}}
                s.send_multipart([peer, json.dumps(hb).encode()])
                s.send_multipart([peer, b'{"k":"msg","base":1}', json.dumps(env).encode()])
                seq += 1
            else:
                s.send_multipart([peer, b'{"k":"hello"}'])
                s.send_multipart([peer, b"null"])
                s.send_multipart([peer, b"[1,2"])
            sent += 1
            while s.poll(100):
                frames = s.recv_multipart()
                answers += 1
                if len(frames) == 3:
                    stolen += 1
        if mode == "forge-fills":
            print(json.dumps({"sent": sent, "answers": answers}), flush=True)
        else:
            print(json.dumps({"stolen": stolen, "frames": answers}), flush=True)
    elif mode == "inject":
        s = ctx.socket(zmq.ROUTER)
        s.linger = 0
        if len(argv) >= 5:
            public, secret = zmq.auth.load_certificate(argv[4])
            s.curve_server = True
            s.curve_secretkey = secret
            s.curve_publickey = public
        s.routing_id = b"risk-manager/orders"
        s.bind(endpoint)
        hellos, offered = 0, 0
        end = time.time() + amount
        while time.time() < end:
            if s.poll(100):
                frames = s.recv_multipart()
                hellos += 1
                env = {"v": 1, "type": "order", "seq": 1, "pub": "risk-manager/orders",
                       "epoch": 1, "ts": time.time() * 1000, "trace": "0" * 32,
                       "body": {"clientOrderId": "rm-injected", "signalId": "x",
                                "symbol": "AAPL", "side": "buy", "qty": 1000, "type": "market",
                                "timeInForce": "day", "strategy": "default",
                                "createdAt": time.time() * 1000, "tickTs": time.time() * 1000}}
                s.send_multipart([frames[0], b'{"k":"msg","base":1}', json.dumps(env).encode()])
                offered += 1
        print(json.dumps({"hellos": hellos, "offered": offered}), flush=True)
    else:
        print(json.dumps({"error": f"unknown mode {mode}"}), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
