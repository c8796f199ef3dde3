"""A foreign ZeroMQ peer for the tests: Debian's pyzmq (a different libzmq binding than
zeromq.js), run with /usr/bin/python3. Keys come from the project's certificate files
(lib/keys.ts writes the zcert format that zmq.auth.load_certificate reads).

Frames are read and written with wire_foreign.py, the wire format as the README
describes it ("Wire format"), in the standard library only.

usage:
  zmq_foreign.py sub ENDPOINT SECONDS [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      subscribes to everything; prints {"received": N, "first": {envelope}} (frames
      received, the first envelope decoded)
  zmq_foreign.py drain ENDPOINT SECONDS
      subscribes to everything and only counts what arrives (a sink for benchmarks);
      prints {"received": N}
  zmq_foreign.py decode ENDPOINT SECONDS [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      subscribes and decodes every frame; prints {"frames": N, "records": N,
      "errors": [...], "types": {type: count}, "samples": {type: [up to 3 envelopes]}}
  zmq_foreign.py receive-orders ENDPOINT SECONDS [CLIENT_CERT_SECRET SERVER_CERT_PUBLIC]
      as the orders receiver, dialling a bound reliable sender: says hello, decodes
      every data frame and acknowledges it; prints {"envelopes": [...], "headers": [...]}
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

sys.dont_write_bytecode = True  # no __pycache__ left in the repository by the tests

import zmq
import zmq.auth

from wire_foreign import decode_frame, encode_frame, WireError


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
                    first = decode_frame(m)[0]
        print(json.dumps({"received": got, "first": first}), flush=True)
    elif mode == "drain":
        s = ctx.socket(zmq.SUB)
        s.linger = 0
        s.rcvhwm = 0
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(endpoint)
        got = 0
        end = time.time() + amount
        while time.time() < end:
            if s.poll(50):
                s.recv_multipart()
                got += 1
        print(json.dumps({"received": got}), flush=True)
    elif mode == "decode":
        s = ctx.socket(zmq.SUB)
        s.linger = 0
        secure(s, *certs)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(endpoint)
        frames, records, errors, types, samples = 0, 0, [], {}, {}
        end = time.time() + amount
        while time.time() < end:
            if s.poll(50):
                parts = s.recv_multipart()
                frames += 1
                try:
                    if len(parts) != 1:
                        raise WireError(f"{len(parts)} frames in a message")
                    envelopes = decode_frame(parts[0])
                except (WireError, ValueError) as e:
                    errors.append(str(e)[:200])
                    continue
                for env in envelopes:
                    records += 1
                    types[env["type"]] = types.get(env["type"], 0) + 1
                    kept = samples.setdefault(env["type"], [])
                    if len(kept) < 3:
                        kept.append(env)
        print(json.dumps({"frames": frames, "records": records, "errors": errors[:5],
                          "types": types, "samples": samples}), flush=True)
    elif mode == "receive-orders":
        s = ctx.socket(zmq.ROUTER)
        s.linger = 500
        s.router_mandatory = False
        secure(s, *certs)
        sender = b"risk-manager/orders"
        s.routing_id = b"execution-engine/orders"
        s.setsockopt(zmq.CONNECT_ROUTING_ID, sender)
        s.connect(endpoint)
        envelopes, headers = [], []
        end = time.time() + amount
        last_hello = 0.0
        while time.time() < end:
            if time.time() - last_hello > 0.2:
                s.send_multipart([sender, b'{"k":"hello"}'])
                last_hello = time.time()
            if not s.poll(50):
                continue
            frames = s.recv_multipart()
            header = json.loads(frames[1])
            if header.get("k") == "hb":
                # Acknowledge what we have (every seq below the sender's base was acked).
                upto = max([e["seq"] for e in envelopes] + [header["base"] - 1])
                s.send_multipart([sender, json.dumps(
                    {"k": "ack", "upto": upto, "pub": header["pub"],
                     "epoch": header["epoch"]}).encode()])
                continue
            if len(frames) != 3:
                continue
            headers.append(header)
            env = decode_frame(frames[2])[0]
            if env["seq"] not in [e["seq"] for e in envelopes]:
                envelopes.append(env)
            s.send_multipart([sender, json.dumps(
                {"k": "ack", "upto": env["seq"], "pub": env["pub"],
                 "epoch": env["epoch"]}).encode()])
        print(json.dumps({"envelopes": envelopes, "headers": headers}), flush=True)
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
                env = {"v": 2, "type": "execution_report", "seq": seq,
                       "pub": "execution-engine/execution_reports", "epoch": hb["epoch"],
                       "ts": time.time() * 1000, "trace": "0" * 32,
                       "body": {"clientOrderId": "rm-forged", "symbol": "AAPL", "side": "sell",
                                "kind": "fill", "state": "filled", "orderQty": 1000000,
                                "lastQty": 1000000, "lastPrice": 5, "cumQty": 1000000,
                                "avgPrice": 5, "leavesQty": 0, "venue": "sim",
                                "strategy": "default", "ts": time.time() * 1000}}
                env["v"] = 2
                s.send_multipart([peer, json.dumps(hb).encode()])
                s.send_multipart([peer, b'{"k":"msg","base":1}', encode_frame([env])])
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
                env = {"v": 2, "type": "order", "seq": 1, "pub": "risk-manager/orders",
                       "epoch": 1, "ts": time.time() * 1000, "trace": "0" * 32,
                       "body": {"clientOrderId": "rm-injected", "signalId": "x",
                                "symbol": "AAPL", "side": "buy", "qty": 1000, "type": "market",
                                "timeInForce": "day", "strategy": "default",
                                "createdAt": time.time() * 1000, "tickTs": time.time() * 1000}}
                s.send_multipart([frames[0], b'{"k":"msg","base":1}', encode_frame([env])])
                offered += 1
        print(json.dumps({"hellos": hellos, "offered": offered}), flush=True)
    else:
        print(json.dumps({"error": f"unknown mode {mode}"}), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
