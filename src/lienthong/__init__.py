"""lienthong: the digital-government backbone of a Vietnamese province."""

__version__ = "0.1.0"
