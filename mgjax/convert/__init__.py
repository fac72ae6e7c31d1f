"""Loading external weights: a safetensors reader (never pickle) and per-family key maps onto mgjax modules."""
