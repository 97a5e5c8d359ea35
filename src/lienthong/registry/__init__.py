"""Agencies and their identifier codes, levels, hierarchy and mergers."""
