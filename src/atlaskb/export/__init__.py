"""Writers that turn a KnowledgeBase into other formats (JSON, CSV, vaults, ...)."""
