"""The pure queue core: layout, tickets, commands, events and the floor state machine.

Nothing in this package does I/O, touches asyncio, SQL or JSON; time is always an
argument (``now``, an aware :class:`datetime.datetime`).
"""
