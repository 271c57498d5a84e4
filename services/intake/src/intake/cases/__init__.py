"""Cases: registration, update, reassignment and closing, following the TRM stages."""
