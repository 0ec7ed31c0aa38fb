"""The guidance (案内表示機), counter (個別表示機) and staff (職員用周知機) displays: HTML, CSS and
JS modules.

A package only so that its files install as package data with madoguchi; ``server/pages.py``
serves this folder at ``/displays/``.
"""
