"""Dead letters: list, inspect, replay or discard what consumers gave up on (audited)."""
