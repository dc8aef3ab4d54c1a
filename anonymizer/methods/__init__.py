"""Value-level algorithms of the anonymization methods (pure functions, no tree walking).

The engine decides *which* nodes a rule reaches; these functions decide what happens to one value.
"""
