"""Online applications (issue 14): the procedure catalogue, the versioned form engine and its doors,
and the Japanese answer helpers (kana, 和暦, phone numbers, postal codes)."""
