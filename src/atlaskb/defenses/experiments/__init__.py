"""Experiments: one module per mitigation, mapping each technique it claims to measurements."""
