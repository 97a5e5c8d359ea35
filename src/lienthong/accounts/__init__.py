"""People, sign-in, roles per agency, sessions, and credentials for agency software."""
