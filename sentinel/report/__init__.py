"""Graded evaluation reports: assessment + risk + alerts + inventory -> HTML, PDF, Markdown, JSON, CSV (zh/en).

data.py gathers what a report says (from the store, through the compliance and asset APIs), i18n.py holds the
labels, svg.py draws the pictures, render.py turns the data into files.
"""
