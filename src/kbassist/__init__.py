"""kbassist: a governed knowledge assistant for sales teams."""

__version__ = "0.1.0"
