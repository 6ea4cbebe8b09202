"""Protocol decoders, free of I/O ("sans-IO"): bytes in, events out.

One decoder serves capture files, live interfaces and tests alike. See base.py for the contracts and registry.py
for which decoder handles which flow.
"""
