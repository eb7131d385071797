"""Network recorder for tests/network_audit.py: imported by every Python process started with this folder
on PYTHONPATH (the `cicd-etl` process and its children: the simulator, the report's kernel).

An audit hook sees each connect, send-to and name lookup the process makes through Python's socket module;
one whose host is not loopback is appended to the JSON-lines file named by CICD_ETL_NETWORK_AUDIT and then
refused (the hook raises before the call runs), so nothing leaves the machine even when a test fails.
Connections made inside C libraries (DuckDB's extension downloads, libpq) do not pass through it.
"""

import ipaddress
import json
import os
import socket
import sys

AUDIT_LOG = os.environ.get("CICD_ETL_NETWORK_AUDIT")
LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
INSTALLED = bool(AUDIT_LOG)


def _host(event: str, args: tuple):
    """The host an event would reach, or None when it reaches no network host (a UNIX socket)."""
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        return address[0]
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        return args[0]
    if event == "socket.getnameinfo":
        return args[0][0]
    return None


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0].lower()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _record(event: str, args: tuple) -> None:
    if not event.startswith("socket."):
        return
    host = _host(event, args)
    if host is None or _is_loopback(host):
        return
    entry = {"event": event, "host": str(host), "pid": os.getpid(), "argv": sys.argv[:3]}
    with open(AUDIT_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    raise ConnectionRefusedError(f"network audit: {event} to {host} refused")


if INSTALLED:
    sys.addaudithook(_record)
