"""The touch kiosk (番号発券機) screen: ``index.html``, ``kiosk.css`` and ``kiosk.js``.

A package only so that its files install as package data with madoguchi; ``server/pages.py``
serves this folder at ``/kiosk/``.
"""
