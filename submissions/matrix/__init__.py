"""Training algorithms that treat weights as matrices (Muon, ...)."""
