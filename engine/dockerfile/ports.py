"""EXPOSE's port words as Docker reads them (docker/go-connections ``nat.ParsePortSpecs``).

A word is ``[[IP:]HOST_PORT:]PORT[-END][/PROTO]``; a range gives one port per
number, the protocol (tcp, udp or sctp; tcp when left out) is lower-cased,
and only the container side ends up in the image: ``7000-7002/TCP`` exposes
``7000/tcp``, ``7001/tcp`` and ``7002/tcp``. Anything else is an error,
worded as Docker words it.
"""

from __future__ import annotations

import ipaddress

PROTOCOLS = ("tcp", "udp", "sctp")
_MAX_PORT = 65535


class PortError(ValueError):
    pass


def _split_parts(word: str) -> tuple[str, str, str]:
    parts = word.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _split_proto(port: str) -> tuple[str, str]:
    parts = port.split("/")
    if not port or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _number(text: str) -> int:
    # Go's strconv.ParseUint(text, 10, 16): decimal digits only, at most 65535.
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_PORT:
        raise ValueError(text)
    return int(text)


def port_range(text: str) -> tuple[int, int]:
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        port = _number(text)
        return port, port
    start_text, end_text = text.split("-")[:2]
    start, end = _number(start_text), _number(end_text)
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def expose_ports(word: str) -> list[str]:
    """The ``PORT/proto`` names one EXPOSE word stands for; ``PortError`` when Docker refuses it."""
    ip, host_port, container = _split_parts(word)
    proto, container = _split_proto(container)
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise PortError(f"invalid IP address: {ip}") from None
    if not container:
        raise PortError(f"no port specified: {word}<empty>")
    try:
        start, end = port_range(container)
    except ValueError:
        raise PortError(f"invalid containerPort: {container}") from None
    if host_port:
        try:
            host_start, host_end = port_range(host_port)
        except ValueError:
            raise PortError(f"invalid hostPort: {host_port}") from None
        if end - start != host_end - host_start and end != start:
            raise PortError(f"invalid ranges specified for container and host Ports: {container} and {host_port}")
    if proto.lower() not in PROTOCOLS:
        raise PortError(f"invalid proto: {proto}")
    return [f"{port}/{proto.lower()}" for port in range(start, end + 1)]
