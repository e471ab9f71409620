#!/usr/bin/env python3
"""Regenerates the fuzz seed corpora in fuzz/seeds/ from real traffic.

Starts BIND (`named`) on a loopback port with a small zone, puts a recording UDP proxy in
front of it, sends it the queries `dig` really sends (with EDNS, cookies, DO bit, ...) and
stores each query and BIND's response as seeds; adds an AXFR over TCP and the zone file
itself. Needs bind9 and dnsutils (Debian). Loopback only. The other master_parse seeds are
copies of store/tests/golden/*.zone, and seeds/toml_parse/ is written by hand. Run from
anywhere:

    python3 fuzz/make_seeds.py
"""

import os
import pathlib
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
SEEDS = HERE / "seeds"

ZONE = """$ORIGIN example.com.
$TTL 3600
@       IN SOA  ns1 hostmaster ( 2024010101 7200 3600 1209600 300 )
@       IN NS   ns1
@       IN NS   ns2.example.net.
@       IN MX   10 mail
@       IN MX   20 mail2.example.net.
@       IN TXT  "v=spf1 ip4:192.0.2.0/24 -all" "second;string"
@       IN A    192.0.2.1
@       IN AAAA 2001:db8::1
ns1     IN A    192.0.2.53
ns1     IN AAAA 2001:db8::53
www     IN A    192.0.2.80
www     IN A    192.0.2.81
www     IN AAAA 2001:db8::80
WWW2    IN CNAME www
alias   IN CNAME www.example.com.
mail    IN A    192.0.2.25
_sip._tcp IN SRV 0 5 5060 sip
sip     IN A    192.0.2.60
*.wild  IN A    192.0.2.99
sub     86400 IN NS ns1.sub
sub     86400 IN NS ns2.sub
ns1.sub 86400 IN A 192.0.2.154
ns2.sub 86400 IN AAAA 2001:db8::154
odd     IN TYPE65534 \\# 3 ABCDEF
dn      IN DNAME example.net.
"""

QUERIES = [
    ("www_a", ["www.example.com", "A"]),
    ("www_aaaa_do", ["www.example.com", "AAAA", "+dnssec"]),
    ("apex_soa", ["example.com", "SOA"]),
    ("apex_mx", ["example.com", "MX"]),
    ("apex_txt", ["example.com", "TXT"]),
    ("apex_ns", ["example.com", "NS"]),
    ("cname_chain", ["www2.example.com", "A"]),
    ("nxdomain", ["nope.example.com", "A", "+nocookie"]),
    ("nodata", ["www.example.com", "MX"]),
    ("referral", ["host.sub.example.com", "A", "+norec"]),
    ("wildcard", ["x.wild.example.com", "A"]),
    ("srv", ["_sip._tcp.example.com", "SRV"]),
    ("unknown_type", ["odd.example.com", "TYPE65534"]),
    ("dname", ["a.dn.example.com", "A"]),
    ("refused", ["example.org", "A"]),
    ("noedns", ["MiXeD.ExAmPlE.CoM", "A", "+noedns"]),
]


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proxy(listen, upstream, captured, stop):
    """Forwards each datagram to BIND and records (query, response)."""
    listen.settimeout(0.2)
    while not stop.is_set():
        try:
            query, client = listen.recvfrom(65535)
        except socket.timeout:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(2)
            up.sendto(query, ("127.0.0.1", upstream))
            response, _ = up.recvfrom(65535)
        captured.append((query, response))
        listen.sendto(response, client)


def axfr(port):
    """An AXFR over TCP (RFC 5936); returns the query and every response message."""
    qname = b"".join(bytes([len(p)]) + p for p in b"example.com".split(b".")) + b"\0"
    query = struct.pack("!HHHHHH", 0x4242, 0, 1, 0, 0, 0) + qname + struct.pack("!HH", 252, 1)
    messages = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        soa_seen = 0
        while soa_seen < 2:
            length = struct.unpack("!H", recv_exact(s, 2))[0]
            message = recv_exact(s, length)
            messages.append(message)
            soa_seen += message.count(b"\x00\x06\x00\x01")  # crude: SOA type+class pairs
            if len(messages) > 10:
                break
    return query, messages


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def write(target, name, data):
    path = SEEDS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="nebula-seeds-"))
    (work / "example.com.zone").write_text(ZONE)
    port = free_port(socket.SOCK_STREAM)
    (work / "named.conf").write_text(f"""
options {{
    directory "{work}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    pid-file "{work}/named.pid";
    allow-transfer {{ any; }};
}};
zone "example.com" {{ type primary; file "example.com.zone"; }};
""")
    named = subprocess.Popen(["named", "-g", "-c", str(work / "named.conf"), "-u", "root"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    try:
        time.sleep(1.5)
        listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listen.bind(("127.0.0.1", 0))
        captured = []
        thread = threading.Thread(target=proxy, args=(listen, port, captured, stop))
        thread.start()
        for name, args in QUERIES:
            before = len(captured)
            subprocess.run(["dig", "@127.0.0.1", "-p", str(listen.getsockname()[1]), "+tries=1",
                            "+time=2", *args], check=True, stdout=subprocess.DEVNULL)
            query, response = captured[before]
            write("message_decode", f"query_{name}", query)
            write("message_decode", f"response_{name}", response)
            write("query_view", f"query_{name}", query)
            # Start offset 12: the question name; the response's answer owners point back to it.
            write("name_decode", f"qname_{name}", bytes([12]) + query)
        stop.set()
        thread.join()
        query, messages = axfr(port)
        write("message_decode", "axfr_query", query)
        write("query_view", "axfr_query", query)
        for i, message in enumerate(messages):
            write("message_decode", f"axfr_response_{i}", message)
        # Names in the middle of a compressed response: find each pointer and start on the
        # label before it.
        response = messages[0]
        pointers = [i for i in range(12, len(response) - 1) if response[i] & 0xC0 == 0xC0][:6]
        for n, at in enumerate(pointers):
            if at < 256:
                write("name_decode", f"axfr_pointer_{n}", bytes([at]) + response)
        write("master_parse", "example.com.zone", ZONE.encode())
    finally:
        stop.set()
        named.terminate()
        named.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
