"""backpropgen: expressions and flat programs -> readable, flat backprop code."""

__version__ = "0.1.0"
