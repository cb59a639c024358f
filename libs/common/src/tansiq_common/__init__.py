"""What every Tansiq service needs and nothing domain-specific."""
