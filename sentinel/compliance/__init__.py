"""Graded protection (MLPS 2.0): the requirement catalogue, grading, assessment, scoring. See model.py."""
