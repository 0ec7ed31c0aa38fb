"""Online applications (issue 14): the procedure catalogue, versioned forms and the Japanese answer helpers."""
