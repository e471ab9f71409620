#!/usr/bin/env python3
"""Captures the real DNS messages under tests/golden/*.hex (read by tests/golden_wire.rs).

Starts BIND's `named` on 127.0.0.1 (ports picked free) with two small zones, one of them
DNSSEC-signed with NSEC3, puts a UDP relay in front of it, runs `dig` through the relay and
writes every query and response it saw, byte for byte, as hex. Also keeps dig's text output of
the TSIG exchange (tsig.dig.txt), whose TSIG line is BIND's presentation of TSIG RDATA.

Run from anywhere: python3 wire/tests/golden/capture.py. Needs named, dig, dnssec-keygen and
dnssec-signzone (Debian bind9, bind9-utils, bind9-dnsutils). Loopback only.
"""

import os
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TSIG_SECRET = "qXOpGTAzqOGbZzfPN0vBOuBmSmPCTNi9Q3LUB3OBkvI="

EXAMPLE_ZONE = """$ORIGIN example.com.
$TTL 3600
@       SOA   ns1 hostmaster 2024010101 7200 3600 1209600 300
@       NS    ns1
@       NS    ns2
ns1     A     192.0.2.53
ns1     AAAA  2001:db8::53
ns2     A     198.51.100.53
@       MX    10 mail
mail    A     192.0.2.25
www     A     192.0.2.80
www     AAAA  2001:db8::80
@       HTTPS 1 . alpn="h3,h2" ipv4hint=192.0.2.80 ipv6hint=2001:db8::80
@       CAA   0 issue "ca.example.net"
"""

SIGNED_ZONE = """$ORIGIN signed.example.
$TTL 3600
@       SOA   ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@       NS    ns1.example.com.
www     A     192.0.2.80
txt     TXT   "hello"
"""

# (file stem, description, dig arguments after the server); each exchange writes
# <stem>.query.hex and <stem>.response.hex.
EXCHANGES = [
    ("www_a", "dig's default query (EDNS, cookie) and a response with compression and glue",
     ["www.example.com", "A"]),
    ("nxdomain", "NXDOMAIN with the SOA in the authority section",
     ["nosuch.example.com", "A", "+nocookie"]),
    ("nxdomain_nsec3", "NXDOMAIN in a signed zone: NSEC3 and RRSIG proofs (DO bit set)",
     ["nosuch.signed.example", "A", "+dnssec"]),
    ("dnskey", "DNSKEY RRset with its RRSIG",
     ["signed.example", "DNSKEY", "+dnssec"]),
    ("https", "HTTPS (SVCB) and CAA answers",
     ["example.com", "HTTPS"]),
    ("options", "EDNS options: client subnet, padding, NSID, an unknown option",
     ["www.example.com", "AAAA", "+subnet=192.0.2.0/24", "+padding=128", "+nsid", "+ednsopt=65001:beef"]),
    ("tsig", "TSIG-signed query and response (hmac-sha256)",
     ["-y", "hmac-sha256:golden-key:" + TSIG_SECRET, "example.com", "SOA"]),
    ("refused", "a query for a zone not served: REFUSED",
     ["www.example.org", "A"]),
    ("prohibited", "a query refused by allow-query: REFUSED with Extended DNS Error 18 (Prohibited)",
     ["denied.example", "SOA"]),
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relay(listen, upstream, log, stop):
    """Forwards each datagram to `upstream` and its answer back, logging (direction, bytes)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", listen))
    server.settimeout(0.2)
    while not stop.is_set():
        try:
            query, client = server.recvfrom(65535)
        except socket.timeout:
            continue
        log.append(("query", query))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(3)
            up.sendto(query, ("127.0.0.1", upstream))
            response, _ = up.recvfrom(65535)
        log.append(("response", response))
        server.sendto(response, client)
    server.close()


def write_hex(path, description, command, data):
    with open(path, "w") as f:
        f.write(f"# {description}\n# captured by capture.py: {' '.join(command)}\n")
        f.write(f"# {len(data)} octets\n")
        for i in range(0, len(data), 32):
            f.write(data[i:i + 32].hex() + "\n")


def main():
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "example.com.zone"), "w") as f:
            f.write(EXAMPLE_ZONE)
        with open(os.path.join(work, "signed.example.zone"), "w") as f:
            f.write(SIGNED_ZONE)
        with open(os.path.join(work, "denied.example.zone"), "w") as f:
            f.write(SIGNED_ZONE.replace("signed.example.", "denied.example."))
        keygen = ["dnssec-keygen", "-q", "-K", work, "-a", "ECDSAP256SHA256"]
        subprocess.run(keygen + ["-f", "KSK", "signed.example"], check=True, capture_output=True)
        subprocess.run(keygen + ["signed.example"], check=True, capture_output=True)
        subprocess.run(["dnssec-signzone", "-q", "-S", "-K", work, "-d", work, "-3", "AABBCCDD", "-H", "0",
                        "-o", "signed.example", "-f", os.path.join(work, "signed.example.signed"),
                        os.path.join(work, "signed.example.zone")], check=True, capture_output=True)
        named_port, relay_port, control_port = free_port(), free_port(), free_port()
        with open(os.path.join(work, "named.conf"), "w") as f:
            f.write(f"""
key "golden-key" {{ algorithm hmac-sha256; secret "{TSIG_SECRET}"; }};
controls {{ }};
options {{
    directory "{work}";
    pid-file "{work}/named.pid";
    listen-on port {named_port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    minimal-responses no;
    dnssec-validation no;
    server-id "golden";
}};
zone "example.com" {{ type primary; file "{work}/example.com.zone"; }};
zone "signed.example" {{ type primary; file "{work}/signed.example.signed"; }};
zone "denied.example" {{ type primary; file "{work}/denied.example.zone"; allow-query {{ none; }}; }};
""")
        named = subprocess.Popen(["named", "-g", "-c", os.path.join(work, "named.conf")],
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "named.log"), "w"))
        try:
            for _ in range(100):
                probe = subprocess.run(["dig", "@127.0.0.1", "-p", str(named_port), "+short", "+tries=1",
                                        "+time=1", "example.com", "SOA"], capture_output=True, text=True)
                if probe.stdout.strip():
                    break
                time.sleep(0.1)
            else:
                raise SystemExit("named did not answer; see " + os.path.join(work, "named.log"))
            log, stop = [], threading.Event()
            thread = threading.Thread(target=relay, args=(relay_port, named_port, log, stop))
            thread.start()
            try:
                for stem, description, arguments in EXCHANGES:
                    command = ["dig", "@127.0.0.1", "-p", str(relay_port), "+tries=1", "+time=3"] + arguments
                    # A server still settling can answer SERVFAIL once; such an answer is no golden file.
                    for _ in range(3):
                        log.clear()
                        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                        if len(log) == 2 and log[1][1][3] & 0x0F != 2:
                            break
                        time.sleep(0.5)
                    shown = ["dig"] + arguments
                    kinds = [k for k, _ in log]
                    assert kinds == ["query", "response"], (stem, kinds)
                    write_hex(os.path.join(HERE, f"{stem}.query.hex"), description + " (query)", shown, log[0][1])
                    write_hex(os.path.join(HERE, f"{stem}.response.hex"), description + " (response)", shown, log[1][1])
                    if stem == "tsig":
                        with open(os.path.join(HERE, "tsig.dig.txt"), "w") as f:
                            f.write(out)
            finally:
                stop.set()
                thread.join()
        finally:
            named.terminate()
            named.wait()


if __name__ == "__main__":
    main()
