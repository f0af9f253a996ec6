"""The reporting domain: metric rules, bounded de-duplication and figures, standard library only.

It reads the shared event contracts (`schemas.events`) and knows nothing of Kafka or faust.
"""
