"""Compiled rule plans: the engine's fast path.

``program`` turns rule paths into flat step programs and says whether a configuration can be compiled;
``plans`` and ``compiler`` build, per resource type, which rule owns each element position; ``operations``
adapts the kernel's operation there; ``walk`` applies a plan to a resource in one pass, pruning as it goes;
``engine`` is the :class:`~anonymizer.engine.interface.Engine` over them.
"""
