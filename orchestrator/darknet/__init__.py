"""Every Darknet fact orch relies on: cfg and .data files, weights names and sizes, detector valid outputs, forks."""
