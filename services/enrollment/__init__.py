"""Enrollment service: registers informal workers, campaigns and payments; publishes changes."""
