"""Python ssl client of the TLS captures (client namespace): TLS 1.2 at most, no verification.

argv: host port sni. Sends one HTTP request and reads until the server closes.
"""
import socket
import ssl
import sys

host, port, sni = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
with socket.create_connection((host, port)) as raw:
    with ctx.wrap_socket(raw, server_hostname=sni) as s:
        s.sendall(b'GET / HTTP/1.1\r\nHost: ' + sni.encode() + b'\r\n\r\n')
        while s.recv(4096):
            pass
