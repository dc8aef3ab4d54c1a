"""Compiled rule plans: the engine's fast path.

``program`` turns rule paths into flat step programs and says whether a configuration can be compiled;
``compiler`` builds, per resource type, which rule owns each element position and what it does there;
``value_ops`` holds the per-value operations (shared with the node-tree engine); ``walk`` applies a plan to a
resource in one pass, pruning as it goes; ``text_ops`` plugs ``scrubText`` in.
"""
