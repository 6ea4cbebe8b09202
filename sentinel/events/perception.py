"""Perception-layer (感知层) events: IoT protocols spoken by sensor nodes, cameras and gateways, and device facts."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Event, doc, event_kind


@event_kind("mqtt", "perception", "One MQTT control packet (3.1, 3.1.1 or 5).")
@dataclass(slots=True, kw_only=True)
class Mqtt(Event):
    msg_type: str = doc(
        "Control packet type: CONNECT, CONNACK, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT or AUTH (acks and pings "
        "are counted by the decoder, not reported).",
        "",
    )
    protocol_name: str | None = doc("Protocol name from CONNECT: `MQTT` (3.1.1, 5) or `MQIsdp` (3.1).")
    protocol_version: int | None = doc("3 (3.1), 4 (3.1.1) or 5; from CONNECT, and carried on the connection's later packets.")
    client_id: str | None = doc("Client identifier (CONNECT).")
    username: str | None = doc("User name (CONNECT); the password itself is never kept.")
    password_sent: bool | None = doc("Whether CONNECT carried a password.")
    will_topic: str | None = doc("Will topic (CONNECT).")
    clean_session: bool | None = doc("Clean session / clean start flag (CONNECT).")
    keep_alive: int | None = doc("Keep-alive interval in seconds (CONNECT).")
    return_code: int | None = doc("CONNACK return code (3.1/3.1.1) or reason code (5; also DISCONNECT/AUTH); 0 = accepted.")
    topics: list[str] = doc("Topic filters (SUBSCRIBE/UNSUBSCRIBE) or the topic name (PUBLISH).", default_factory=list)
    wildcard: bool = doc("True when a subscribed filter contains `#` or `+`.", False)
    qos: int | None = doc("QoS (PUBLISH).")
    retain: bool | None = doc("Retain flag (PUBLISH).")
    payload_len: int | None = doc("Payload size in bytes (PUBLISH).")


@event_kind("coap", "perception", "One CoAP message.")
@dataclass(slots=True, kw_only=True)
class Coap(Event):
    msg_type: str = doc("CON, NON, ACK or RST.", "")
    code: str = doc("Method (GET, POST, PUT, DELETE, FETCH...) or response code as `c.dd` (2.05...).", "")
    is_request: bool = doc("True for a request (method code).", False)
    uri_path: str | None = doc("URI path joined with `/`, leading `/`.")
    uri_query: str | None = doc("URI query options joined with `&`.")
    token: str | None = doc("Token as hex.")
    message_id: int = doc("Message id.", 0)
    uri_host: str | None = doc("Uri-Host option.")
    content_format: int | None = doc("Content-Format option (0 text/plain, 50 json, 60 cbor...).")
    payload_len: int = doc("Payload size in bytes.", 0)
    dtls: bool = doc("True when the datagram was DTLS-protected (CoAPS); other fields then stay empty.", False)


@event_kind("modbus", "perception", "One Modbus/TCP request with its response, paired by transaction id.")
@dataclass(slots=True, kw_only=True)
class Modbus(Event):
    trans_id: int = doc("MBAP transaction identifier.", 0)
    unit_id: int = doc("Unit (slave) identifier.", 0)
    func_code: int = doc("Function code of the request (without the exception bit).", 0)
    func_name: str = doc("Function name (read_coils, write_single_register, diagnostics...).", "")
    is_write: bool = doc("True for a function that changes the slave's state (FC 5, 6, 15, 16, 22, 23).", False)
    address: int | None = doc("Start address (FC 1-6, 15, 16, 22; for FC 23 the write range).")
    quantity: int | None = doc("Quantity of coils/registers read or written (1 for FC 5, 6, 22; FC 23: written).")
    value: int | None = doc("Value written by FC 5 (0xFF00 = ON, 0 = OFF) or FC 6.")
    read_address: int | None = doc("FC 23 only: start of the range read.")
    read_quantity: int | None = doc("FC 23 only: quantity read.")
    sub_function: int | None = doc("Diagnostics (FC 8) sub-function, MEI type (FC 43).")
    exception_code: int | None = doc("Exception code when the response carries the exception bit.")
    request: bool = doc("True when the request was seen; False for a response without a request (its facts only).", True)
    response: bool = doc("True when a response was seen.", False)
    rtt: float | None = doc("Seconds between request and response.")
    master_authorised: bool | None = doc(
        "Whether the inventory authorises this master for this slave: both are assets of the same system. None "
        "when no inventory is imported or with `--no-detect` (set from the inventory as the run is evaluated, "
        "before the event is stored).")


@event_kind("credential", "transport", "A credential seen in cleartext (the secret itself is never kept).")
@dataclass(slots=True, kw_only=True)
class Credential(Event):
    protocol: str = doc("Protocol that carried it: http-basic, ftp, telnet, pop3, imap, mqtt.", "")
    username: str | None = doc("User name.")
    success: bool | None = doc("Whether the login succeeded, when the reply was seen.")
    method: str | None = doc("How it was sent: USER/PASS, APOP, LOGIN, AUTHENTICATE PLAIN, AUTH PLAIN, CONNECT, prompt...")


@event_kind("heartbeat_lost", "perception", "A device that reports on a regular cadence fell silent for too long.")
@dataclass(slots=True, kw_only=True)
class HeartbeatLost(Event):
    device: str = doc("Device key (MAC or IP).", "")
    interval: float = doc("Usual reporting interval, seconds (median gap).", 0.0)
    silent_for: float = doc("Seconds since the device was last seen.", 0.0)
    last_seen: float = doc("Time the device was last seen.", 0.0)
    protocol: str | None = doc("Protocol whose reports stopped (mqtt, modbus...); none when the whole device fell silent.")


@event_kind("device_unknown", "perception", "A device seen for the first time that is in no inventory asset: an "
            "unauthorised node joining (only raised once an inventory exists).")
@dataclass(slots=True, kw_only=True)
class DeviceUnknown(Event):
    device: str = doc("Device key (MAC or IP).", "")
    vendor: str | None = doc("Vendor from the MAC's OUI, when known.")
    roles: list[str] = doc("Role guesses (mqtt_client, modbus_master, camera...).", default_factory=list)
    protocols: list[str] = doc("Protocols it was seen speaking.", default_factory=list)
