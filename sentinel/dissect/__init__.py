"""The deep-dissection path: Wireshark's own dissectors (tshark, through pyshark) for what Sentinel does not decode.

Only the packets that need it are handed over (selected with a BPF filter by tcpdump), so the cost is paid for a few
flows, not for the whole capture.
"""
