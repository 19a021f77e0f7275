"""Who is asking: staff, terminals and card sessions, and what each may do."""
