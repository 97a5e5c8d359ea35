"""One-stop public services: procedures, dossiers, working-day deadlines, fees, KPIs."""
