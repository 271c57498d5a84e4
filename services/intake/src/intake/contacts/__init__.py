"""Anonymous contacts: hotline calls and walk-ins recorded without identity, counted for donors."""
