"""The counter terminal (窓口端末) and the statistics page: ``index.html``, ``stats.html`` and
their CSS and JS modules.

A package only so that its files install as package data with madoguchi; ``server/pages.py``
serves this folder at ``/counter/``.
"""
