"""Publication figures (PNG + PDF) drawn from result tables, without pyplot state."""
