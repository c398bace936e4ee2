"""Configuration models of the layers, with no dependency on the layers themselves.

`harombe.config` (the bottom of the import graph) assembles them; the layers import their own
section from here, so imports point down only.
"""
