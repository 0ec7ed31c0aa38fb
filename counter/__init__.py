"""The counter terminal (窓口端末), the statistics page and the online applications' staff
screens: ``index.html``, ``stats.html``, ``forms.html`` (the applications portal),
``builder.html`` (the form builder) and their CSS and JS modules.

A package only so that its files install as package data with madoguchi; ``server/pages.py``
serves this folder at ``/counter/``.
"""
