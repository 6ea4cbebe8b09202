"""Which decoder takes which flow.

Decoders are chosen by the server port first (either side of the flow, since captures may start mid-flow), then,
for TCP flows on other ports, by sniffing the first payload bytes (HTTP and TLS run everywhere; MQTT and FTP
often do). Adding a protocol means adding its module and one line here.
"""

from __future__ import annotations

from . import cleartext, coap, dns, http, modbus, mqtt, tls
from .base import Registry


def default_registry() -> Registry:
    reg = Registry()
    for port in dns.UDP_PORTS:
        reg.udp_ports[port] = dns.DnsDecoder
    for port in dns.TCP_PORTS:
        reg.tcp_ports[port] = dns.DnsTcpDecoder
    for port in coap.UDP_PORTS:
        reg.udp_ports[port] = coap.CoapDecoder
    for module, decoder in ((http, http.HttpDecoder), (tls, tls.TlsDecoder), (mqtt, mqtt.MqttDecoder),
                            (modbus, modbus.ModbusDecoder)):
        for port in module.TCP_PORTS:
            reg.tcp_ports[port] = decoder
    for decoder in (cleartext.FtpDecoder, cleartext.TelnetDecoder, cleartext.Pop3Decoder, cleartext.ImapDecoder):
        for port in decoder.TCP_PORTS:
            reg.tcp_ports[port] = decoder
    # Sniffers see the first payload of a flow, whichever side sent it: clients speak first in TLS, HTTP and MQTT,
    # servers (banner, greeting, option negotiation) in FTP, POP3, IMAP and Telnet. Modbus has no reliable
    # signature, so it is found by port only.
    reg.tcp_sniffers = [(tls.looks_like_tls, tls.TlsDecoder), (http.looks_like_http, http.HttpDecoder),
                        (mqtt.looks_like_mqtt, mqtt.MqttDecoder), *cleartext.SNIFFERS]
    return reg
