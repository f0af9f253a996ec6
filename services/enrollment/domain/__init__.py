"""The pure domain of enrollment: standard library only, no I/O beyond reading its data files."""
