"""One module per mitigation (see docs/evidence-framework.md); discovered by
`atlaskb.defenses.registry`, so adding a module here is all it takes."""
