#!/usr/bin/env python3
"""A tiny authoritative DNS responder for tests (UDP, one question per query).

Zone lines are "name TYPE data" with TYPE A (data: an IPv4 address) or SRV (data:
"priority weight port target"). Unknown names get NXDOMAIN; known names without
records of the asked type get an empty NOERROR answer.

Usage as a program: fakedns.py ADDR PORT ZONEFILE; as a module: Server(addr, port, lines).
"""
import socket
import struct
import sys
import threading

T_A, T_SRV = 1, 33


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels).lower(), off + 1
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def parse_zone(lines):
    zone = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 3 or parts[0].startswith("#"):
            continue
        name, typ = parts[0].rstrip(".").lower(), parts[1].upper()
        if typ == "A":
            rdata = socket.inet_aton(parts[2])
            zone.setdefault(name, []).append((T_A, rdata))
        elif typ == "SRV":
            prio, weight, port = (int(x) for x in parts[2:5])
            rdata = struct.pack("!HHH", prio, weight, port) + encode_name(parts[5])
            zone.setdefault(name, []).append((T_SRV, rdata))
    return zone


def answer(zone, query):
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    name, off = decode_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    records = zone.get(name)
    rcode = 3 if records is None else 0
    rrs = [r for r in (records or []) if r[0] == qtype]
    head = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, len(rrs), 0, 0)
    body = b"".join(struct.pack("!HHHIH", 0xC00C, t, 1, 5, len(d)) + d for t, d in rrs)
    return head + question + body


class Server:
    """Answers from @lines (zone lines, see the module comment) on UDP @addr:@port in a
    daemon thread; set_zone() replaces the records; close() stops it."""

    def __init__(self, addr, port, lines=()):
        self.zone = parse_zone(lines)
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, port))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def set_zone(self, lines):
        self.zone = parse_zone(lines)

    def _serve(self):
        while True:
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.queries.append(decode_name(query, 12)[0])
                self.sock.sendto(answer(self.zone, query), peer)
            except (ValueError, IndexError, struct.error, OSError):
                continue

    def close(self):
        self.sock.close()


def main():
    addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path) as f:
        Server(addr, port, f.readlines())
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
