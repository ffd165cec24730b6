"""Moving bytes: packet codec, MQTT, broker, store, services and the ``sitless`` command."""
