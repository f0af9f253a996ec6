"""Adapters: database, Kafka, phone and e-mail libraries, behind the ports the handlers use."""
