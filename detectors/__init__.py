"""Online detectors on river. Pure: no Kafka, no Faust, no I/O."""
