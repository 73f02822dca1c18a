"""The recording engine: capture loop, frame ring, encoder pool, segment writer."""
