"""Transport sensor: capture files and live interfaces -> flows, conn/arp/icmp events, decoder dispatch.

Entry points are in `sentinel.capture.pipeline` (`analyze_files`, `watch`).
"""
