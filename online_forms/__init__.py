"""Online applications: procedures and versioned forms that staff build, citizens fill and staff process (issue 14)."""
