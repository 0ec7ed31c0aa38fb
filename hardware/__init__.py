"""Hardware adapters: the ticket printer (ESC/POS) and, later, the card reader.

Nothing here knows the queue floor; the server hands in plain values.
"""
