"""floodwall: a log-driven intrusion prevention system."""

from floodwall.model import Ban, Decision, Failure, SourceLine

__all__ = ["Ban", "Decision", "Failure", "SourceLine", "__version__"]
__version__ = "0.1.0"
