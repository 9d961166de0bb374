"""justicelab: responsible justice data."""
__version__ = "0.1.0"
