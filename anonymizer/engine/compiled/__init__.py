"""Compiled rule plans: the engine's fast path.

``program`` turns rule paths into flat step programs and says whether a configuration can be compiled;
``plans`` and ``compiler`` build, per resource type, which rule owns each element position; ``operations``
adapts the kernel's operation there; ``walk`` applies a plan to the objects of a resource in one pass, pruning
as it goes (``shapes`` generates that walk per object shape); ``process`` handles whole resources (the root's
walk, resources inside, labels and rule hits); ``engine`` is the :class:`~anonymizer.engine.interface.Engine` over them.
"""
