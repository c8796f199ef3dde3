"""The bus's wire format (version 2) in Python, written from the README's description
("Wire format") with the standard library only: base64, struct, json. The tests use it
to read and forge frames as a client in another language would.

    decode_frame(frame: bytes) -> list of envelope dicts
    encode_frame(envelopes) -> bytes   (JSON bodies)
"""
import base64
import binascii
import json
import math
import struct

VERSION = 2
# version, codec, trace flags, type length, pub length, body length, seq, epoch, ts,
# trace id, span id: 57 bytes, little-endian, no padding.
HEADER = struct.Struct("<BBBBBIQdd16s8s")
assert HEADER.size == 57


class WireError(Exception):
    pass


class Reader:
    def __init__(self, data, at=0, end=None):
        self.data = data
        self.at = at
        self.end = len(data) if end is None else end

    def take(self, n):
        if self.at + n > self.end:
            raise WireError(f"{n} bytes needed at {self.at}, the body ends at {self.end}")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def unpack(self, fmt):
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size))

    def str8(self):
        (n,) = self.unpack("B")
        return self.take(n).decode("utf-8")


def nullable(x):
    return None if math.isnan(x) else x


def read_trade(r):
    (bits,) = r.unpack("B")
    body = {"symbol": r.str8(), "exchange": r.str8()}
    if bits & 1:
        body["tradeId"] = r.str8()
    body["price"], body["size"], body["exchangeTs"], body["receivedTs"] = r.unpack("dddd")
    if bits & 2:
        body["eligible"] = bool(bits & 4)
    return body


def read_quote(r):
    body = {"symbol": r.str8(), "exchange": r.str8()}
    (body["bidPrice"], body["bidSize"], body["askPrice"], body["askSize"],
     body["exchangeTs"], body["receivedTs"]) = r.unpack("dddddd")
    return body


def read_book(r):
    body = {"symbol": r.str8(), "exchange": r.str8()}
    crossed, n_bids, n_asks, mid, spread, imbalance, ex_ts, rx_ts = r.unpack("BHHddddd")
    body.update(crossed=crossed == 1, mid=nullable(mid), spreadBps=nullable(spread),
                imbalance=nullable(imbalance), exchangeTs=ex_ts, receivedTs=rx_ts)
    body["bids"] = [list(r.unpack("dd")) for _ in range(n_bids)]
    body["asks"] = [list(r.unpack("dd")) for _ in range(n_asks)]
    return body


CODECS = {1: read_trade, 2: read_quote, 3: read_book}


def decode_records(data):
    out, at = [], 0
    while at < len(data):
        if len(data) - at < HEADER.size:
            raise WireError("a record shorter than its header")
        (version, codec, flags, t_len, p_len, b_len, seq, epoch, ts, trace,
         span) = HEADER.unpack_from(data, at)
        if version != VERSION:
            raise WireError(f"format version {version} is not supported")
        at += HEADER.size
        env = {"v": version, "type": data[at:at + t_len].decode("utf-8"), "seq": seq,
               "pub": data[at + t_len:at + t_len + p_len].decode("utf-8"),
               "epoch": epoch, "ts": ts, "trace": trace.hex()}
        if span != bytes(8):
            env["span"] = span.hex()
        if span != bytes(8) or flags != 0:
            env["flags"] = flags
        at += t_len + p_len
        if at + b_len > len(data):
            raise WireError("a body overruns its frame")
        if codec == 0:
            env["body"] = json.loads(data[at:at + b_len].decode("utf-8"))
        elif codec in CODECS:
            r = Reader(data, at, at + b_len)
            env["body"] = CODECS[codec](r)
            if r.at != at + b_len:
                raise WireError("a body shorter than its length")
        else:
            raise WireError(f"body codec {codec} is unknown")
        at += b_len
        out.append(env)
    return out


def decode_frame(frame):
    """The envelopes of one frame (base64 text of records back to back)."""
    try:
        data = base64.b64decode(frame, validate=True)
    except binascii.Error as e:
        raise WireError(f"not base64: {e}")
    return decode_records(data)


def encode_record(env):
    body = json.dumps(env["body"], separators=(",", ":")).encode("utf-8")
    t = env["type"].encode("utf-8")
    p = env["pub"].encode("utf-8")
    span = bytes.fromhex(env["span"]) if "span" in env else bytes(8)
    header = HEADER.pack(VERSION, 0, env.get("flags", 0), len(t), len(p), len(body),
                         env["seq"], env["epoch"], env["ts"], bytes.fromhex(env["trace"]),
                         span)
    return header + t + p + body


def encode_frame(envelopes):
    """One frame holding `envelopes` with JSON bodies."""
    return base64.b64encode(b"".join(encode_record(e) for e in envelopes))
