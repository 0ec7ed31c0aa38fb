"""Online applications: the procedure catalogue, the versioned form engine and its doors (issue 14)."""
