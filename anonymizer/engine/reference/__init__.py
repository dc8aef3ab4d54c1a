"""The node-tree engine: Microsoft's algorithm step by step on a typed tree of the resource.

It implements every construct a configuration may use and is the reference the compiled plans are tested
against; configurations the plans cannot run fall back to it (see :mod:`anonymizer.engine.interface`).
"""
