"""The event backbone: outbox, relay, consumers, CloudEvents envelope."""
