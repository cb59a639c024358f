"""The replica of the agreements service's agreements, for checking linked agreements."""
