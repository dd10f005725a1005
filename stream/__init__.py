"""segstream: streaming audience segmentation on Kafka."""

__version__ = "0.1.0"
